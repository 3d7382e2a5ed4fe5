import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// What the CLI needs of a Lector gateway's HTTP API.
struct LectorClient {
    let server: String
    var token: String?

    /// A refusal or failure to show the user, with the exit code the CLI ends with.
    struct Failure: Error, CustomStringConvertible {
        var message: String
        var exitCode: Int32 = 2
        var description: String { message }
    }

    init(server: String, token: String?) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.token = token
    }

    func request(_ path: String, method: HTTPMethod = .GET) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: server + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        return request
    }

    func execute(_ request: HTTPClientRequest, timeout: TimeAmount = .seconds(30)) async throws -> HTTPClientResponse {
        do {
            return try await HTTPClient.shared.execute(request, timeout: timeout)
        } catch {
            throw Failure(message: "Cannot reach the Lector server at \(server): \(error)", exitCode: 1)
        }
    }

    /// `data` of a JSON envelope, or the envelope's message as a failure.
    func json(_ path: String) async throws -> Any {
        let response = try await execute(request(path))
        let body = try await response.body.collect(upTo: 64 << 20)
        let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
        guard response.status == .ok, let object else {
            throw Failure(message: Self.message(status: response.status, body: Data(buffer: body)))
        }
        return object["data"] as Any
    }

    /// The sentence a refused request came back with: the envelope's `message`, or an `error`
    /// event's `error` for a refused streamed upload.
    static func message(status: HTTPResponseStatus, body: Data) -> String {
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let message = object["message"] as? String
        {
            return "HTTP \(status.code): \(message)"
        }
        var parser = ServerEventParser()
        if let event = parser.feed(body + Data("\n\n".utf8)).first(where: { $0.name == "error" }),
            let message = event.json["error"] as? String
        {
            return "HTTP \(status.code): \(message)"
        }
        let text = String(decoding: body.prefix(300), as: UTF8.self)
        return "HTTP \(status.code)\(text.isEmpty ? "" : ": \(text)")"
    }
}
