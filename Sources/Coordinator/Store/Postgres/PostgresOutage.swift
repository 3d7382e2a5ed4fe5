import PostgresNIO

/// Whether an error from PostgreSQL says the database is out of reach (restarting, its sessions
/// ended, not answering) rather than that a request was wrong: a client is then told to try again.
enum PostgresOutage {
    static func covers(_ error: any Error) -> Bool {
        if error is DatabaseTimeout { return true }
        if let error = error as? PostgresTransactionError {
            return [error.beginError, error.closureError, error.commitError].contains { $0.map(covers) ?? false }
        }
        // The pool's own errors (shut down, circuit breaker tripped, request cancelled) come out
        // of `withTransaction` unwrapped; their type is in an underscored module of postgres-nio
        // this package does not link, so it is known by name. Each means no session could be had.
        if String(describing: type(of: error)) == "ConnectionPoolError" { return true }
        guard let error = error as? PSQLError else { return false }
        if error.code == .server {
            // SQLSTATE classes 08 (connection exception), 53 (insufficient resources) and 57
            // (operator intervention: shutdown, recovery, a session ended by an administrator).
            let state = error.serverInfo?[.sqlState] ?? ""
            return ["08", "53", "57"].contains(String(state.prefix(2)))
        }
        return [.connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed, .uncleanShutdown]
            .contains(error.code)
    }
}
