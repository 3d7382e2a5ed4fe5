import Foundation
import PostgresNIO

/// Reads `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]`.
enum PostgresURL {
    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    static func configuration(_ text: String) throws -> PostgresClient.Configuration {
        guard text.utf8.count <= 2048, let url = URLComponents(string: text),
            ["postgres", "postgresql"].contains(url.scheme ?? "")
        else { throw Invalid(description: "the store's URL must look like postgres://USER@HOST:PORT/DATABASE") }
        guard let host = url.host, !host.isEmpty else { throw Invalid(description: "the store's URL names no host") }
        guard let user = url.user, !user.isEmpty else { throw Invalid(description: "the store's URL names no user") }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        guard !database.isEmpty, !database.contains("/") else {
            throw Invalid(description: "the store's URL names no database (…/DATABASE)")
        }
        let port = url.port ?? 5432
        guard (1...65535).contains(port) else { throw Invalid(description: "the store's URL has a bad port") }
        let mode = url.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        switch mode {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require": tls = .require(.makeClientConfiguration())
        default: throw Invalid(description: "sslmode must be disable, prefer or require")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: user, password: url.password, database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 16
        return configuration
    }
}
