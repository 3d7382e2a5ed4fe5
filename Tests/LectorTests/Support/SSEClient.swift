import AsyncHTTPClient
import Foundation
import NIOCore

/// Reads a `text/event-stream` answer event by event, noting when each arrived.
struct SSEEvent {
    var name: String
    var id: String?
    var data: [String: Any]
    var arrived: ContinuousClock.Instant
    /// Which read of the response body carried it: events written together end up in one read.
    var chunk: Int
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
        var reads = 0
        for try await chunk in response.body {
            reads += 1
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let block = String(pending[..<end.lowerBound])
                pending = String(pending[end.upperBound...])
                var event = SSEEvent(name: "message", id: nil, data: [:], arrived: .now, chunk: reads)
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

    /// A multipart/form-data body: text fields, then the file part (left out when `file` is nil),
    /// then more text fields, as browsers and curl may order them either way.
    static func multipart(
        file: Data?, field: String = "file", filename: String, fields: [String: String] = [:],
        fieldsAfter: [String: String] = [:]
    ) -> (Data, String) {
        let boundary = "lector-\(UUID().uuidString)"
        var body = Data()
        func text(_ values: [String: String]) {
            for (name, value) in values.sorted(by: { $0.key < $1.key }) {
                body.append(
                    Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n".utf8))
            }
        }
        text(fields)
        if let file {
            body.append(
                Data(
                    "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(filename)\"\r\nContent-Type: application/pdf\r\n\r\n"
                        .utf8))
            body.append(file)
            body.append(Data("\r\n".utf8))
        }
        text(fieldsAfter)
        body.append(Data("--\(boundary)--\r\n".utf8))
        return (body, "multipart/form-data; boundary=\(boundary)")
    }
}
