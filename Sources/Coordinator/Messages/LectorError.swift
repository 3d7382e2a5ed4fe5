/// An error the coordinator reports to a client, carrying the HTTP status and machine code the
/// gateway answers with. Codable and registered with the actor system, so it crosses nodes intact.
public struct LectorError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { message }

    public static func notFound(book id: Int64) -> LectorError {
        LectorError(status: 404, code: "book_not_found", message: "No book with id \(id).")
    }

    public static func badRequest(_ message: String, code: String = "bad_request") -> LectorError {
        LectorError(status: 400, code: code, message: message)
    }

    /// The coordinator doing this lost its lease to another mid-way: nothing was kept, and the
    /// same request to the new one will work.
    public static let coordinatorChanged = LectorError(
        status: 503, code: "coordinator_changed",
        message: "Another coordinator took over while this request was handled; nothing was kept. Send it again.")

    /// The database did not answer (it is restarting, or out of reach): nothing changed, and the
    /// same request will work once it is back.
    public static let databaseUnavailable = LectorError(
        status: 503, code: "database_unavailable",
        message: "The database is not answering right now; try again in a few seconds.")

    public static func unprocessable(_ message: String, code: String) -> LectorError {
        LectorError(status: 422, code: code, message: message)
    }
}
