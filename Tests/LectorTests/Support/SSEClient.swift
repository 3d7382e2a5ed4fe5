import AsyncHTTPClient
import Foundation
import NIOCore

/// Reads a `text/event-stream` answer event by event, noting when each arrived.
struct SSEEvent {
    var name: String
    var id: String?
    var data: [String: Any]
    var arrived: ContinuousClock.Instant
}

enum SSEClient {
    static func post(_ url: String, body: Data, contentType: String) async throws -> (status: Int, events: [SSEEvent]) {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        var events: [SSEEvent] = []
        var pending = ""
        for try await chunk in response.body {
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let block = String(pending[..<end.lowerBound])
                pending = String(pending[end.upperBound...])
                var event = SSEEvent(name: "message", id: nil, data: [:], arrived: .now)
                for line in block.split(separator: "\n") {
                    if line.hasPrefix("event: ") { event.name = String(line.dropFirst(7)) }
                    if line.hasPrefix("id: ") { event.id = String(line.dropFirst(4)) }
                    if line.hasPrefix("data: ") {
                        event.data =
                            (try? JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8))) as? [String: Any]
                            ?? [:]
                    }
                }
                events.append(event)
            }
        }
        return (Int(response.status.code), events)
    }

    /// A multipart/form-data body with one file part and text fields.
    static func multipart(file: Data, field: String = "file", filename: String, fields: [String: String] = [:]) -> (
        Data, String
    ) {
        let boundary = "lector-\(UUID().uuidString)"
        var body = Data()
        for (name, value) in fields {
            body.append(
                Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
        }
        body.append(
            Data(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(filename)\"\r\nContent-Type: application/pdf\r\n\r\n"
                    .utf8))
        body.append(file)
        body.append(Data("\r\n--\(boundary)--\r\n".utf8))
        return (body, "multipart/form-data; boundary=\(boundary)")
    }
}
