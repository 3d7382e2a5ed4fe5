import AsyncHTTPClient
import Foundation
import LectorTestSupport
import NIOCore
import Testing

@testable import lector

/// Two coordinators on one PostgreSQL database, with real `lector` processes: one holds the lease
/// and is active, the other stands by; killing or freezing the active one hands the book to the
/// standby, which finishes it with every page stored once.
@Suite("Coordinator takeover", .serialized)
struct CoordinatorTakeoverTests {
    struct HACluster {
        let files: TestClusterFiles
        var coordinators: [String: LectorProcess]
        let workers: [LectorProcess]
        let gateway: LectorProcess
        let url: String

        static func start() async throws -> HACluster {
            let url = try await PostgresServer.shared.freshDatabase()
            let files = try TestClusterFiles(
                workers: 2, extra: "store:\n  postgres: \"\(url)\"", coordinators: 2)
            try await files.makeCertificates()
            var coordinators: [String: LectorProcess] = [:]
            for name in ["coordinator", "coordinator-2"] {
                coordinators[name] = try files.start("coordinator", node: name)
            }
            let workers = try (1...2).map { try files.start("worker", node: "worker-\($0)") }
            let gateway = try files.start("gateway", node: "gateway")
            let cluster = HACluster(
                files: files, coordinators: coordinators, workers: workers, gateway: gateway, url: url)
            _ = try await cluster.waitForLeadership(timeout: .seconds(40)) { $0.active != nil && $0.standby.count == 1 }
            return cluster
        }

        var base: String { files.baseURL }

        struct Leadership {
            var active: String?
            var epoch: Int?
            var standby: [String]
        }

        func leadership() async throws -> Leadership {
            let json = try await HTTP.json("\(base)/api/cluster/").json
            let coordinator = (json["data"] as? [String: Any])?["coordinator"] as? [String: Any] ?? [:]
            return Leadership(
                active: coordinator["active"] as? String, epoch: coordinator["epoch"] as? Int,
                standby: coordinator["standby"] as? [String] ?? [])
        }

        func waitForLeadership(timeout: Duration, _ condition: (Leadership) -> Bool) async throws -> Leadership {
            let deadline = ContinuousClock.now + timeout
            var last = Leadership(active: nil, epoch: nil, standby: [])
            while ContinuousClock.now < deadline {
                if let current = try? await leadership() {
                    last = current
                    if condition(current) { return current }
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw TestFailure(
                "leadership never came: last active \(last.active ?? "none") epoch \(last.epoch ?? -1) standby \(last.standby)\n"
                    + coordinators.map { "--- \($0.key)\n\($0.value.output.suffix(3000))" }.joined(separator: "\n"))
        }

        /// The upload's HTTP status and JSON body.
        func upload(_ fixture: String) async throws -> (status: Int, json: [String: Any]) {
            try await HTTP.upload(fixture: fixture, base: base)
        }

        func uploaded(_ fixture: String) async throws -> Int {
            let (status, json) = try await upload(fixture)
            guard status == 200, let id = (json["data"] as? [String: Any])?["book_id"] as? Int else {
                throw TestFailure("upload of \(fixture) failed: \(status) \(json)")
            }
            return id
        }

        func completedPages(_ id: Int) async -> Int {
            let json = try? await HTTP.json("\(base)/api/books/\(id)/status/").json
            return ((json?["data"] as? [String: Any])?["pages_status"] as? [String: Any])?["completed"] as? Int ?? 0
        }

        func waitForCompleted(_ id: Int, atLeast count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(90)
            while await completedPages(id) < count {
                guard ContinuousClock.now < deadline else {
                    throw TestFailure("book \(id) stalled below \(count) pages")
                }
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        func settle(_ id: Int) async throws -> [String: Any] {
            try await HTTP.waitFor("\(base)/api/books/\(id)/status/", timeout: .seconds(240)) { json in
                let status = (json["data"] as? [String: Any])?["processing_status"] as? String
                return status == "completed" || status == "failed"
            }["data"] as? [String: Any] ?? [:]
        }

        /// The book completed with no page failed, 39 pages of audio (the last one is blank), each
        /// stored exactly once.
        func checkFinished(_ id: Int) async throws {
            let status = try await settle(id)
            #expect(
                status["processing_status"] as? String == "completed",
                "\(status)\n\(coordinators.map { "--- \($0.key)\n\($0.value.output.suffix(3000))" }.joined(separator: "\n"))"
            )
            #expect((status["pages_status"] as? [String: Any])?["failed"] as? Int == 0)
            try await PostgresStoreTests.checkOneAudioPerPage(url, book: id, expectedPages: 39)
        }

        /// The book's events from `lastEventID` on, reconnecting as a browser's EventSource does
        /// whenever the stream ends early (another takeover, a 503 meanwhile), until
        /// `book_completed`; at most ten connections.
        func follow(_ url: String, from lastEventID: String) async throws -> [ServerEvent] {
            var all: [ServerEvent] = []
            var last = lastEventID
            for _ in 0..<10 {
                var request = HTTPClientRequest(url: url)
                request.headers.add(name: "Last-Event-ID", value: last)
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
                guard response.status == .ok else {
                    try await Task.sleep(for: .seconds(1))
                    continue
                }
                var parser = ServerEventParser()
                for try await chunk in response.body { all += parser.feed(chunk.readableBytesView) }
                if all.last?.name == "book_completed" { break }
                last = all.last(where: { $0.id != nil })?.id ?? last
            }
            return all
        }

        func stop() async {
            for process in [gateway] + workers + Array(coordinators.values) { await process.terminate() }
            files.remove()
        }
    }

    @Test func killingTheActiveCoordinatorMidBookHandsTheBookToTheStandby() async throws {
        let cluster = try await HACluster.start()
        defer { Task { await cluster.stop() } }
        let first = try await cluster.leadership()
        let active = try #require(first.active)
        let epoch = try #require(first.epoch)
        #expect(first.standby == [active == "coordinator" ? "coordinator-2" : "coordinator"])

        let book = try await cluster.uploaded("english-40p")
        try await cluster.waitForCompleted(book, atLeast: 3)
        // A listener of the book's events, across the takeover.
        let url = "\(cluster.base)/api/books/\(book)/events/"
        let reading = try await UserFacingTests.streaming(url)
        try await Task.sleep(for: .milliseconds(300))
        let before = await cluster.completedPages(book)
        await cluster.coordinators[active]!.kill9()

        // An upload while no coordinator is active is refused with a retryable 503, never half
        // made; once the standby has taken over it goes through.
        var refusals: [String] = []
        var second: Int?
        let deadline = ContinuousClock.now + .seconds(60)
        while second == nil, ContinuousClock.now < deadline {
            let (status, json) = try await cluster.upload("english-8p")
            if status == 200 {
                second = (json["data"] as? [String: Any])?["book_id"] as? Int
            } else {
                #expect(status == 503, "\(json)")
                refusals.append((json["error"] as? [String: Any])?["code"] as? String ?? "\(json)")
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        #expect(!refusals.isEmpty, "with the active coordinator dead, an upload cannot go through at once")
        #expect(Set(refusals).isSubset(of: ["coordinator_unavailable", "coordinator_changed"]), "\(refusals)")
        let secondBook = try #require(second, "no upload went through after the takeover")

        let taken = try await cluster.waitForLeadership(timeout: .seconds(30)) { $0.active != nil }
        #expect(taken.active != active)
        #expect((taken.epoch ?? 0) > epoch, "a takeover is a new epoch")
        #expect(before < 39, "the takeover must come mid-book")
        // The stream ended when its coordinator went; resumed, it goes on from the new one's events
        // (a new epoch, so a fresh status first) to the book's completion.
        let seen = try await reading.value
        let lastID = try #require(seen.last(where: { $0.id != nil })?.id)
        let resumed = try await cluster.follow(url, from: lastID)
        #expect(resumed.first?.name == "status", "\(resumed.prefix(2).map(\.name))")
        #expect(resumed.first?.id?.split(separator: "-").first != lastID.split(separator: "-").first)
        #expect(resumed.last?.name == "book_completed", "\(resumed.suffix(3).map(\.name))")
        try await cluster.checkFinished(book)
        let status = try await HTTP.json("\(cluster.base)/api/books/\(secondBook)/status/").json
        #expect((status["data"] as? [String: Any])?["total_pages"] as? Int == 8)
        // No book was half made by the refused uploads: just the two.
        let books = try await PostgresStoreTests.rows(cluster.url, "SELECT COUNT(*)::text FROM book")
        #expect(books.first?.first == "2")
        let log = cluster.coordinators[taken.active!]!.output
        #expect(log.contains("holds the coordinator lease, epoch \(taken.epoch!)"))
        #expect(log.contains("[RECOVERY]"))
    }

    @Test func aFrozenActiveCoordinatorIsDeposedAndComesBackAsAStandby() async throws {
        let cluster = try await HACluster.start()
        defer { Task { await cluster.stop() } }
        let first = try await cluster.leadership()
        let active = try #require(first.active)
        let process = cluster.coordinators[active]!

        let book = try await cluster.uploaded("english-40p")
        try await cluster.waitForCompleted(book, atLeast: 3)
        kill(process.pid, SIGSTOP)
        let taken: HACluster.Leadership
        do {
            taken = try await cluster.waitForLeadership(timeout: .seconds(30)) {
                $0.active != nil && $0.active != active
            }
        } catch {
            kill(process.pid, SIGCONT)
            throw error
        }
        #expect((taken.epoch ?? 0) > (first.epoch ?? .max))
        // Frozen a while longer with its jobs' answers waiting, then woken. It steps down at its
        // first look at the clock; a write it tries before that (the jobs' answers racing it) is
        // refused by the database: `BookStoreConformanceTests.aDeposedCoordinatorsWritesAreRefusedByTheDatabase`.
        try await Task.sleep(for: .seconds(1))
        // Whatever the process stamps after this moment, it stamped after waking.
        let wokenAt = Date()
        kill(process.pid, SIGCONT)

        let back = try await cluster.waitForLeadership(timeout: .seconds(30)) { $0.standby.contains(active) }
        #expect(back.active == taken.active, "the woken coordinator did not take the lease back")
        #expect(back.epoch == taken.epoch)
        try await cluster.checkFinished(book)
        let log = process.output
        #expect(log.contains("\(active) steps down"), "\(log.suffix(3000))")
        let wake = log.range(of: "\(active) steps down").map { String(log[$0.lowerBound...]) } ?? ""
        // Nothing it began after waking was recorded as a result (what it tried failed: refused
        // by its lease, or its store already closed). It may still log a page whose write it
        // sent before the freeze and the database committed under its lease then; such a page's
        // completion time, stamped by the coordinator as the write began, predates the wake.
        let late = Self.completedPages(in: wake)
        let stamped = try await PostgresStoreTests.rows(
            cluster.url,
            "SELECT page_number::text, extract(epoch FROM completed_at)::text FROM page WHERE book_id = \(book)")
        for page in late {
            let row = stamped.first { $0.first == "\(page)" }
            let at = try #require(row?.last.flatMap { $0.flatMap(Double.init) }, "page \(page): \(row ?? [])")
            #expect(
                at < wokenAt.timeIntervalSince1970,
                "page \(page) was completed by the deposed coordinator after it woke\n\(wake.prefix(3000))")
        }
    }

    /// The page numbers a coordinator's log says it completed.
    static func completedPages(in log: String) -> [Int] {
        log.split(separator: "\n").compactMap { line in
            guard let marker = line.range(of: "] Page "), line.contains("COMPLETED! Audio URL") else { return nil }
            return Int(line[marker.upperBound...].prefix { $0.isNumber })
        }
    }
}
