import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// A thin JSON-over-HTTP helper for the end-to-end tests.
enum HTTP {
    static func get(_ url: String, headers: [(String, String)] = [], timeout: Duration = .seconds(10))
        async throws -> (status: Int, body: Data, headers: [(String, String)])
    {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(
            request, timeout: .seconds(Int64(timeout.components.seconds)))
        let body = try await response.body.collect(upTo: 200 << 20)
        return (
            Int(response.status.code), Data(buffer: body), response.headers.map { ($0.name, $0.value) }
        )
    }

    static func json(_ url: String, headers: [(String, String)] = []) async throws -> (
        status: Int, json: [String: Any]
    ) {
        let (status, body, _) = try await get(url, headers: headers)
        let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] ?? [:]
        return (status, object)
    }

    /// A response with its body read in full, and the body as a JSON object when it is one.
    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
        var json: [String: Any]

        var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
        var data: [String: Any]? { json["data"] as? [String: Any] }
    }

    /// Any method, with an optional body. `chunked` sends the body in 4 KiB pieces with no
    /// Content-Length, the way a streaming client does, so the server cannot refuse it up front.
    static func send(
        _ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: Data? = nil,
        chunked: Bool = false, timeout: Duration = .seconds(30)
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body, chunked {
            let (pieces, continuation) = AsyncStream.makeStream(of: ByteBuffer.self)
            var offset = 0
            while offset < body.count {
                let end = min(offset + 4096, body.count)
                continuation.yield(ByteBuffer(bytes: body[offset..<end]))
                offset = end
            }
            continuation.finish()
            request.body = .stream(pieces, length: .unknown)
        } else if let body {
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response = try await HTTPClient.shared.execute(
            request, timeout: .seconds(Int64(timeout.components.seconds)))
        let bytes = Data(buffer: try await response.body.collect(upTo: 64 << 20))
        let json = (try? JSONSerialization.jsonObject(with: bytes)) as? [String: Any] ?? [:]
        return Reply(status: Int(response.status.code), headers: response.headers, body: bytes, json: json)
    }

    /// Polls `url` until `condition` holds on its JSON; returns the last JSON seen.
    static func waitFor(
        _ url: String, headers: [(String, String)] = [], timeout: Duration = .seconds(30),
        _ condition: ([String: Any]) -> Bool
    ) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        var last: [String: Any] = [:]
        while ContinuousClock.now < deadline {
            if let (status, json) = try? await json(url, headers: headers), status == 200 {
                last = json
                if condition(json) { return json }
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        return last
    }

    /// Uploads a fixture PDF as a raw body: the status and the JSON answer (empty if not JSON).
    static func upload(fixture: String, base: String, query: String = "") async throws -> (
        status: Int, json: [String: Any]
    ) {
        var request = HTTPClientRequest(url: "\(base)/api/books/upload/?title=\(fixture)\(query)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/pdf")
        let data = try Data(contentsOf: FaultToleranceTests.fixtures.appendingPathComponent("\(fixture).pdf"))
        request.body = .bytes(ByteBuffer(bytes: data))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 1 << 20)
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]) ?? [:]
        return (Int(response.status.code), json)
    }
}
