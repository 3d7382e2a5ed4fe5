import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

@testable import lector

/// What users and operators touch: live book events, the CLI, `/metrics`, the served files.
@Suite("Events, CLI, metrics, web files", .serialized)
struct UserFacingTests {
    typealias Cluster = FaultToleranceTests.Cluster

    static func fixture(_ name: String) -> String {
        FaultToleranceTests.fixtures.appendingPathComponent("\(name).pdf").path
    }

    /// Reads `…/events/` until `stop` says so or the server ends the stream.
    /// An event stream opened now and read in the background until it ends (the task's value).
    static func streaming(_ url: String) async throws -> Task<[ServerEvent], any Error> {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: "text/event-stream")
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        return Task {
            var parser = ServerEventParser()
            var events: [ServerEvent] = []
            for try await chunk in response.body { events += parser.feed(chunk.readableBytesView) }
            return events
        }
    }

    static func events(
        _ url: String, lastEventID: String? = nil, stop: ([ServerEvent]) -> Bool = { _ in false }
    ) async throws -> [ServerEvent] {
        var request = HTTPClientRequest(url: url)
        if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        #expect(response.status == .ok)
        #expect(response.headers.first(name: "content-type")?.hasPrefix("text/event-stream") == true)
        var parser = ServerEventParser()
        var events: [ServerEvent] = []
        for try await chunk in response.body {
            events += parser.feed(chunk.readableBytesView)
            // Leaving the loop drops the connection, as a client going away does.
            if stop(events) { break }
        }
        return events
    }

    @Test func aClientThatReconnectsGetsEveryLaterEventExactlyOnce() async throws {
        try await BookPipelineTests.withCluster(workers: 2) { cluster in
            let book = try await cluster.upload("english-40p")
            let url = "\(cluster.base)/api/books/\(book)/events/"
            // A new client gets the status first (its id says where the log stands), then every change.
            let first = try await Self.events(url) { events in
                events.filter { $0.name == "page_completed" }.count >= 10
            }
            #expect(first.first?.name == "status")
            #expect(first.first?.json["book_id"] as? Int == book)
            let snapshotCompleted = (first.first?.json["pages_status"] as? [String: Any])?["completed"] as? Int ?? -1
            let lastID = try #require(first.last?.id)
            // Ids are `epoch-n`: the epoch of this coordinator's start, then a count per book.
            let epoch = try #require(lastID.split(separator: "-").first.map(String.init))
            try await Task.sleep(for: .milliseconds(500))

            let second = try await Self.events(url, lastEventID: lastID)
            #expect(second.last?.name == "book_completed")
            #expect(second.last?.json["processing_status"] as? String == "completed")
            // Resumed exactly after the last event seen: no snapshot, no gap, no repeat.
            let all = first + second
            #expect(all.allSatisfy { $0.id?.hasPrefix(epoch + "-") == true })
            let ids = all.compactMap { $0.id?.split(separator: "-").last.flatMap { Int($0) } }
            #expect(second.first?.name != "status")
            #expect(ids.count == all.count)
            #expect(ids == Array(ids[0]..<(ids[0] + ids.count)))
            let completed = all.filter { $0.name == "page_completed" }.compactMap { $0.json["page_number"] as? Int }
            #expect(Set(completed).count == completed.count)
            #expect(snapshotCompleted + completed.count == 40)

            // An id from before a coordinator restart (another epoch) gets a fresh status, not a replay.
            let stale = try await Self.events(url, lastEventID: "0-5")
            #expect(stale.map(\.name) == ["status", "book_completed"])
            let processing = (first + second).filter { $0.name == "page_processing" }
            #expect(processing.allSatisfy { $0.json["worker"] is String && $0.json["attempt"] as? Int == 1 })

            // A new client: the status first; for a settled book then book_completed, and the end.
            let late = try await Self.events(url)
            #expect(late.map(\.name) == ["status", "book_completed"])
            let unknown = try await HTTP.send(.GET, "\(cluster.base)/api/books/9999/events/")
            #expect(unknown.status == 404)
        }
    }

    @Test func cliUploadsFollowsAndReportsRejections() async throws {
        try await BookPipelineTests.withCluster(workers: 2) { cluster in
            let (status, output) = try await LectorProcess.run(
                ["upload", Self.fixture("english-8p"), "--server", cluster.base, "--title", "CLI book", "--wait"],
                timeout: .seconds(120))
            #expect(status == 0, "\(output)")
            #expect(output.contains("Extracting text"))
            #expect(output.contains("Generating audio"))
            #expect(output.contains("completed, 8/8 pages done, 8 with audio"), "\(output)")

            let (refused, message) = try await LectorProcess.run(
                ["upload", Self.fixture("not-a-pdf"), "--server", cluster.base])
            #expect(refused != 0)
            #expect(message.contains("HTTP 415: The file is not a PDF"), "\(message)")

            let (listed, books) = try await LectorProcess.run(["books", "--server", cluster.base])
            #expect(listed == 0)
            #expect(books.contains("CLI book"))
            let (_, book) = try await LectorProcess.run(["status", "1", "--server", cluster.base])
            #expect(book.contains("completed (100%)"), "\(book)")
            let (missing, _) = try await LectorProcess.run(["status", "99", "--server", cluster.base])
            #expect(missing != 0)
        }
    }

    /// One sample per line: `name{labels} value`.
    static var sample: Regex<AnyRegexOutput> {
        try! Regex(
            #"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.]+(e[+-]?[0-9]+)?|NaN|[+-]Inf)$"#
        )
    }

    /// Checks the text is valid exposition format (each family described once, before its
    /// samples) and returns the samples' values by their full `name{labels}`.
    static func parseMetrics(_ text: String) -> [String: Double] {
        let sample = Self.sample
        var described = Set<String>()
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                #expect(parts.count == 4 && ["counter", "gauge", "histogram", "summary", "untyped"].contains(parts[3]))
                #expect(described.insert(String(parts[2])).inserted, "\(parts[2]) described twice")
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let match = line.wholeMatch(of: sample) else {
                Issue.record("not a Prometheus sample: \(line)")
                continue
            }
            let name = String(line[match.output[1].range!])
            let family = ["_bucket", "_sum", "_count", "_total"].reduce(name) { name, suffix in
                described.contains(name) || !name.hasSuffix(suffix) ? name : String(name.dropLast(suffix.count))
            }
            #expect(described.contains(name) || described.contains(family), "\(name) has no TYPE line")
            let key = String(line[..<line.lastIndex(of: " ")!])
            values[key] = Double(line[line.index(after: line.lastIndex(of: " ")!)...])
        }
        return values
    }

    @Test func metricsParseAndMoveWithABook() async throws {
        try await BookPipelineTests.withCluster(workers: 2) { cluster in
            let before = Self.parseMetrics(
                String(decoding: try await HTTP.get("\(cluster.base)/metrics").body, as: UTF8.self))
            let book = try await cluster.upload("english-8p")
            _ = try await cluster.settle(book)
            let reply = try await HTTP.get("\(cluster.base)/metrics")
            #expect(reply.headers.first { $0.0.lowercased() == "content-type" }?.1.hasPrefix("text/plain") == true)
            let after = Self.parseMetrics(String(decoding: reply.body, as: UTF8.self))
            func moved(_ key: String) -> Double { (after[key] ?? 0) - (before[key] ?? 0) }
            #expect(moved(#"lector_pages_completed_total{node="coordinator"}"#) == 8)
            #expect(moved(#"lector_uploads_total{node="coordinator"}"#) == 1)
            let size = try Data(contentsOf: URL(fileURLWithPath: Self.fixture("english-8p"))).count
            #expect(moved(#"lector_upload_bytes_total{node="coordinator"}"#) == Double(size))
            #expect(moved(#"lector_job_duration_seconds_count{node="coordinator"}"#) == 8)
            #expect(after[#"lector_workers_up{node="coordinator"}"#] == 2)
            #expect(after[#"lector_queue_depth{node="coordinator"}"#] == 0)
            #expect(
                moved(#"lector_worker_pages_voiced_total{node="worker-1"}"#)
                    + moved(#"lector_worker_pages_voiced_total{node="worker-2"}"#) == 8)
            #expect((after[#"lector_actor_call_duration_seconds_count{node="gateway"}"#] ?? 0) > 0)
            #expect(after[#"lector_metrics_scrape_failures{node="gateway"}"#] == 0)
        }
    }

    @Test func theWebPageAndOpenAPIDocumentAreServed() async throws {
        try await BookPipelineTests.withCluster(workers: 1) { cluster in
            let page = try await HTTP.send(.GET, "\(cluster.base)/")
            #expect(page.status == 200)
            #expect(page.headers.first(name: "content-type") == "text/html; charset=utf-8")
            let html = String(decoding: page.body, as: UTF8.self)
            #expect(html.contains("id=\"file-input\""))
            for (path, type) in [
                ("/app.js", "text/javascript"), ("/style.css", "text/css"), ("/openapi.yaml", "application/yaml"),
            ] {
                let file = try await HTTP.send(.GET, "\(cluster.base)\(path)")
                #expect(file.status == 200, "\(path)")
                #expect(file.headers.first(name: "content-type")?.hasPrefix(type) == true, "\(path)")
                #expect(file.body.count > 500, "\(path)")
            }
            let openapi = String(
                decoding: try await HTTP.send(.GET, "\(cluster.base)/openapi.yaml").body, as: UTF8.self)
            #expect(openapi.hasPrefix("openapi: 3.1") || openapi.contains("\nopenapi: 3.1"))
        }
    }
}
