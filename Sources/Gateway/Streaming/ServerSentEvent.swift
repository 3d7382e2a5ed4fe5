import Foundation
import Hummingbird

/// One `text/event-stream` message: `event: NAME`, an optional `id:`, and `data:` JSON.
enum ServerSentEvent {
    static func encode(_ name: String, _ payload: some Encodable, id: String? = nil) -> ByteBuffer {
        let json = (try? APIResponse.encoder.encode(payload)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        var text = "event: \(name)\n"
        if let id { text += "id: \(id)\n" }
        text += "data: \(json)\n\n"
        return ByteBuffer(string: text)
    }

    struct ErrorPayload: Encodable {
        var error: String
        var details: String
    }

    static func error(_ error: APIError) -> ByteBuffer {
        encode("error", ErrorPayload(error: error.message, details: "HTTP \(error.status.code) \(error.code)"))
    }

    static let headers: HTTPFields = [
        .contentType: "text/event-stream; charset=utf-8", .cacheControl: "no-cache", .init("X-Accel-Buffering")!: "no",
    ]

    /// An upload refused before its stream began: the status, with a single `error` event as body.
    static func rejection(_ error: APIError) -> Response {
        Response(status: error.status, headers: headers, body: .init(byteBuffer: Self.error(error)))
    }
}
