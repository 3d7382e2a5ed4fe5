import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat

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

    /// Polls `url` until `condition` holds on its JSON; returns the last JSON seen.
    static func waitFor(
        _ url: String, headers: [(String, String)] = [], timeout: Duration = .seconds(30), _ condition: ([String: Any]) -> Bool
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
}
