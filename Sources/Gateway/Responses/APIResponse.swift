import Foundation
import Hummingbird

/// The envelope every JSON answer comes in, as the original service's clients expect:
/// `{"data": …, "status": "PASS", "message": …}` or, on failure, `data: null`, `status: "FAIL"` and an
/// `error.code`.
struct APIEnvelope<Payload: Encodable>: Encodable {
    struct ErrorBody: Encodable {
        var code: String
    }

    var data: Payload?
    var status: String
    var message: String
    var error: ErrorBody?

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        // `data: null` is written out, never omitted.
        try container.encode(data, forKey: .data)
        try container.encode(status, forKey: .status)
        try container.encode(message, forKey: .message)
        try container.encodeIfPresent(error, forKey: .error)
    }

    private enum CodingKeys: String, CodingKey { case data, status, message, error }
}

enum APIResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) -> Response {
        let body = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func ok(_ data: some Encodable, message: String, status: HTTPResponse.Status = .ok) -> Response {
        json(APIEnvelope(data: data, status: "PASS", message: message, error: nil), status: status)
    }

    static func failure(_ status: HTTPResponse.Status, code: String, message: String) -> Response {
        json(
            APIEnvelope<String>(data: nil, status: "FAIL", message: message, error: .init(code: code)),
            status: status)
    }
}

/// An error a route throws to answer with a status and the failure envelope.
struct APIError: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var code: String
    var message: String

    init(_ status: HTTPResponse.Status, code: String, _ message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = APIResponse.failure(status, code: code, message: message)
        // A coordinator restarting or being taken over answers again within seconds.
        if status == .serviceUnavailable { response.headers[.retryAfter] = "2" }
        return response
    }

    static func notFound(_ message: String) -> APIError { APIError(.notFound, code: "not_found", message) }
    static func badRequest(_ message: String) -> APIError { APIError(.badRequest, code: "bad_request", message) }
}
