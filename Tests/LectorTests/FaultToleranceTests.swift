import AsyncHTTPClient
import Foundation
import GRDB
import NIOCore
import Testing

@testable import lector

/// The SPEC's guarantees, proven by killing real `lector` processes.
@Suite("Fault tolerance with real processes", .serialized)
struct FaultToleranceTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    struct Cluster {
        let files: TestClusterFiles
        var coordinator: LectorProcess
        var workers: [String: LectorProcess]
        let gateway: LectorProcess

        static func start(workers: Int = 2, timings: String = "", extra: String = "") async throws -> Cluster {
            let files = try TestClusterFiles(workers: workers, extra: extra, timings: timings)
            try await files.makeCertificates()
            let coordinator = try files.start("coordinator", node: "coordinator")
            var processes: [String: LectorProcess] = [:]
            for index in 1...workers {
                processes["worker-\(index)"] = try files.start("worker", node: "worker-\(index)")
            }
            let gateway = try files.start("gateway", node: "gateway")
            let cluster = Cluster(files: files, coordinator: coordinator, workers: processes, gateway: gateway)
            let token = extra.contains("api_token: s3cret") ? [("Authorization", "Bearer s3cret")] : []
            // Every node up, and the gateway reaching the coordinator: before that an upload is
            // (rightly) answered 503, which a test that uploads at once would take for a failure.
            _ = try await HTTP.waitFor("\(files.baseURL)/api/cluster/", headers: token) { json in
                let data = json["data"] as? [String: Any]
                let nodes = data?["nodes"] as? [[String: Any]] ?? []
                let active = (data?["coordinator"] as? [String: Any])?["active"] as? String
                return nodes.count == workers + 2 && nodes.allSatisfy { $0["state"] as? String == "up" }
                    && active != nil
            }
            return cluster
        }

        var base: String { files.baseURL }

        func upload(_ fixture: String, query: String = "") async throws -> Int {
            let (status, json) = try await HTTP.upload(fixture: fixture, base: base, query: query)
            guard status == 200, let id = (json["data"] as? [String: Any])?["book_id"] as? Int else {
                throw TestFailure("upload of \(fixture) failed: \(status) \(json)")
            }
            return id
        }

        func status(_ id: Int) async throws -> [String: Any] {
            (try await HTTP.json("\(base)/api/books/\(id)/status/").json["data"] as? [String: Any]) ?? [:]
        }

        func completedPages(_ id: Int) async throws -> Int {
            ((try await status(id))["pages_status"] as? [String: Any])?["completed"] as? Int ?? 0
        }

        /// Waits until the book has nothing left to run; returns its last status.
        func settle(_ id: Int, timeout: Duration = .seconds(120)) async throws -> [String: Any] {
            try await HTTP.waitFor("\(base)/api/books/\(id)/status/", timeout: timeout) { json in
                let status = (json["data"] as? [String: Any])?["processing_status"] as? String
                return status == "completed" || status == "failed"
            }["data"] as? [String: Any] ?? [:]
        }

        func waitForCompleted(_ id: Int, atLeast count: Int) async throws {
            let deadline = ContinuousClock.now + .seconds(60)
            while try await completedPages(id) < count, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
        }

        /// The audio file names the pages API reports, in page order.
        func reportedAudio(_ id: Int) async throws -> [String] {
            let json = try await HTTP.json("\(base)/api/books/\(id)/pages/").json
            let pages = (json["data"] as? [String: Any])?["pages"] as? [[String: Any]] ?? []
            return pages.compactMap { ($0["audio_url"] as? String)?.split(separator: "/").last.map(String.init) }
                .sorted()
        }

        /// The files in the book's audio folder: exactly one MP3 a page, nothing half-written.
        func audioFiles(_ id: Int) -> [String] {
            let folder = files.folder.appendingPathComponent("data/audio/books/\(id)")
            return ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []).sorted()
        }

        func stop() async {
            for process in [gateway] + Array(workers.values) + [coordinator] { await process.terminate() }
            files.remove()
        }
    }

    /// The cluster.yaml lines choosing a membership protocol.
    static func membership(_ name: String) -> String { "transport:\n  membership: \(name)" }

    @Test(arguments: ["full-mesh", "swim"])
    func killedWorkerCostsTimeNotPages(membership: String) async throws {
        let cluster = try await Cluster.start(workers: 2, extra: Self.membership(membership))
        let books = [try await cluster.upload("english-40p"), try await cluster.upload("english-40p")]
        try await cluster.waitForCompleted(books[0], atLeast: 2)
        await cluster.workers["worker-1"]!.kill9()
        for book in books {
            let status = try await cluster.settle(book)
            #expect(
                status["processing_status"] as? String == "completed",
                "\(status)\n\(cluster.coordinator.output.suffix(3000))")
            #expect((status["pages_status"] as? [String: Any])?["failed"] as? Int == 0)
            // english-40p's last page is blank: it completes with no audio.
            let files = cluster.audioFiles(book)
            #expect(files == (1...39).map { String(format: "page_%04d.mp3", $0) })
            #expect(try await cluster.reportedAudio(book) == files)
        }
        await cluster.stop()
    }

    @Test func coordinatorKilledMidBookRecoversWithoutDuplicatesOrCorruption() async throws {
        var cluster = try await Cluster.start(workers: 2)
        let book = try await cluster.upload("english-40p")
        try await cluster.waitForCompleted(book, atLeast: 3)
        await cluster.coordinator.kill9()

        // While it is down the gateway answers 503 in the envelope, promptly.
        let started = ContinuousClock.now
        let down = try await HTTP.json("\(cluster.base)/api/books/\(book)/status/")
        #expect(down.status == 503)
        #expect(down.json["status"] as? String == "FAIL")
        #expect((down.json["error"] as? [String: Any])?["code"] as? String == "coordinator_unavailable")
        // Within the gateway's call timeout (10 s), never hanging on the dead node.
        #expect(ContinuousClock.now - started < .seconds(10))

        cluster.coordinator = try cluster.files.start("coordinator", node: "coordinator")
        // The gateway finds the new coordinator by itself: no restart, back to 200.
        let back = try await HTTP.waitFor("\(cluster.base)/api/books/", timeout: .seconds(20)) { _ in true }
        #expect(back["status"] as? String == "PASS")
        let status = try await cluster.settle(book)
        #expect(status["processing_status"] as? String == "completed", "\(status)")
        #expect(cluster.audioFiles(book) == (1...39).map { String(format: "page_%04d.mp3", $0) })
        #expect(try await cluster.reportedAudio(book) == cluster.audioFiles(book))

        let database = try DatabaseQueue(path: cluster.files.folder.appendingPathComponent("data/lector.sqlite").path)
        let integrity = try await database.read { try String.fetchOne($0, sql: "PRAGMA integrity_check") }
        #expect(integrity == "ok")
        let rows = try await database.read {
            try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM page WHERE book_id = ?", arguments: [book])
        }
        #expect(rows == 40)
        await cluster.stop()
    }

    /// An open event stream and `lector upload --wait` across a coordinator restart: the stream
    /// ends instead of hanging, a client resuming with an id from before gets a fresh `status`
    /// (another epoch) and then every new event, and the CLI finishes by itself.
    @Test func eventStreamsAndWaitingClientsSurviveACoordinatorRestart() async throws {
        var cluster = try await Cluster.start(workers: 2)
        let book = try await cluster.upload("english-40p")
        let base = cluster.base
        let cli = Task {
            try await LectorProcess.run(
                [
                    "upload", FaultToleranceTests.fixtures.appendingPathComponent("english-8p.pdf").path, "--server",
                    base, "--wait",
                ], timeout: .seconds(240))
        }
        // The CLI's book exists (its upload is done) before the coordinator is killed.
        _ = try await HTTP.waitFor("\(cluster.base)/api/books/", timeout: .seconds(60)) { json in
            (json["data"] as? [Any])?.count == 2
        }
        try await cluster.waitForCompleted(book, atLeast: 2)
        let url = "\(cluster.base)/api/books/\(book)/events/"
        let reading = try await UserFacingTests.streaming(url)
        try await Task.sleep(for: .milliseconds(500))
        await cluster.coordinator.kill9()
        // The gateway ends the stream once its coordinator is gone, well before the test's limit.
        let seen = try await withThrowingTaskGroup(of: [ServerEvent].self) { group in
            group.addTask { try await reading.value }
            group.addTask {
                try await Task.sleep(for: .seconds(30))
                throw TestFailure("the event stream did not end after the coordinator died")
            }
            let first = try await group.next()!
            group.cancelAll()
            return first
        }
        let lastID = try #require(seen.last(where: { $0.id != nil })?.id)
        cluster.coordinator = try cluster.files.start("coordinator", node: "coordinator")
        _ = try await HTTP.waitFor("\(cluster.base)/api/books/", timeout: .seconds(30)) { _ in true }

        let resumed = try await UserFacingTests.events(url, lastEventID: lastID)
        #expect(resumed.first?.name == "status", "\(resumed.prefix(2).map(\.name))")
        let newEpoch = resumed.first?.id?.split(separator: "-").first
        #expect(newEpoch != lastID.split(separator: "-").first)
        #expect(resumed.last?.name == "book_completed")
        let (status, output) = try await cli.value
        #expect(status == 0, "\(output.suffix(500))")
        await cluster.stop()
    }

    /// SIGSTOP leaves a worker alive but silent, as a network partition would: it must be declared
    /// down, its job done by another worker, and on SIGCONT it rejoins and takes new jobs.
    @Test func frozenWorkerIsTreatedAsDeadAndRejoins() async throws {
        let cluster = try await Cluster.start(workers: 2)
        let frozen = cluster.workers["worker-1"]!
        let books = [try await cluster.upload("english-40p"), try await cluster.upload("english-40p")]
        try await cluster.waitForCompleted(books[0], atLeast: 2)
        kill(frozen.pid, SIGSTOP)
        let down = try await HTTP.waitFor("\(cluster.base)/api/cluster/", timeout: .seconds(15)) { json in
            Self.state(of: "worker-1", in: json) == "down"
        }
        #expect(Self.state(of: "worker-1", in: down) == "down")
        for book in books {
            let status = try await cluster.settle(book)
            #expect(status["processing_status"] as? String == "completed")
            #expect(cluster.audioFiles(book) == (1...39).map { String(format: "page_%04d.mp3", $0) })
        }

        kill(frozen.pid, SIGCONT)
        let up = try await HTTP.waitFor("\(cluster.base)/api/cluster/", timeout: .seconds(20)) { json in
            Self.state(of: "worker-1", in: json) == "up"
        }
        #expect(Self.state(of: "worker-1", in: up) == "up")
        let before = frozen.output.components(separatedBy: "Audio generated!").count
        // It takes jobs again once the coordinator sees it (fairness spreads a 40-page book over both).
        let later = try await cluster.upload("english-40p")
        let status = try await cluster.settle(later)
        #expect(status["processing_status"] as? String == "completed")
        #expect(
            frozen.output.components(separatedBy: "Audio generated!").count > before, "\(frozen.output.suffix(2000))")
        await cluster.stop()
    }

    static func state(of node: String, in json: [String: Any]) -> String? {
        let nodes = (json["data"] as? [String: Any])?["nodes"] as? [[String: Any]] ?? []
        return nodes.first { $0["name"] as? String == node }?["state"] as? String
    }

    /// A worker not in cluster.yaml joins by the coordinator's address: with SWIM the coordinator
    /// learns its registration by gossip and pull, not by a heartbeat from every node.
    @Test(arguments: ["full-mesh", "swim"])
    func joiningWorkerGetsJobs(membership: String) async throws {
        let cluster = try await Cluster.start(workers: 1, extra: Self.membership(membership))
        let certs = try await LectorProcess.run([
            "certs", "--config", cluster.files.configPath, "--node", "worker-9", "--host", "127.0.0.1",
        ])
        #expect(certs.status == 0, "\(certs.output)")
        let books = [try await cluster.upload("english-40p"), try await cluster.upload("english-40p")]
        try await cluster.waitForCompleted(books[0], atLeast: 1)
        let joiner = try LectorProcess(
            "worker-9",
            arguments: [
                "worker", "--config", cluster.files.configPath, "--join",
                "127.0.0.1:\(cluster.files.ports["coordinator"]!)", "--name", "worker-9",
            ], logDirectory: cluster.files.logs)
        for book in books {
            let status = try await cluster.settle(book)
            #expect(status["processing_status"] as? String == "completed")
        }
        #expect(joiner.output.contains("COMPLETED") || joiner.output.contains("Audio generated"), "\(joiner.output)")
        let nodes = try await HTTP.json("\(cluster.base)/api/cluster/")
        let names = ((nodes.json["data"] as? [String: Any])?["nodes"] as? [[String: Any]] ?? []).compactMap {
            $0["name"] as? String
        }
        #expect(names.contains("worker-9"))
        await joiner.terminate()
        await cluster.stop()
    }

    @Test func sigtermedWorkerFinishesItsJobOnce() async throws {
        let cluster = try await Cluster.start(workers: 2)
        let book = try await cluster.upload("english-40p")
        try await cluster.waitForCompleted(book, atLeast: 1)
        let worker = cluster.workers["worker-1"]!
        #expect(await worker.terminate() == 0, "\(worker.output)")
        let status = try await cluster.settle(book)
        #expect(status["processing_status"] as? String == "completed")
        // Every page was handed out once and completed once: nothing redone after the drain.
        let log = cluster.coordinator.output
        for page in 1...40 {
            let started =
                log.components(separatedBy: "Starting audio generation for Book \(book), Page \(page) (").count - 1
            #expect(started == 1, "page \(page) started \(started) times")
        }
        #expect(log.components(separatedBy: "COMPLETED! Audio URL:").count - 1 == 40)
        await cluster.stop()
    }

    @Test func alwaysFailingJobFailsAfterMaxAttemptsAndRetryRequeues() async throws {
        let cluster = try await Cluster.start(workers: 1)
        let book = try await cluster.upload("mixed-3p", query: "&voice=xx-nonexistent")
        let status = try await cluster.settle(book, timeout: .seconds(60))
        #expect(status["processing_status"] as? String == "failed")
        // Pages 1 and 2 have text and fail; page 3 is blank and completes without needing a voice.
        #expect((status["pages_status"] as? [String: Any])?["failed"] as? Int == 2)
        #expect((status["pages_status"] as? [String: Any])?["completed"] as? Int == 1)
        let pages = try await HTTP.json("\(cluster.base)/api/books/\(book)/pages/")
        let list = (pages.json["data"] as? [String: Any])?["pages"] as? [[String: Any]] ?? []
        #expect(list.count == 3)
        for page in list.prefix(2) {
            #expect((page["error"] as? String)?.contains("xx-nonexistent") == true, "\(page)")
            #expect(page["processing_status"] as? String == "failed")
        }
        #expect(list.last?["error"] == nil)
        let log = cluster.coordinator.output
        #expect(log.components(separatedBy: "FAILED after 3 attempts").count - 1 == 2)
        for page in 1...2 {
            for attempt in 1...3 {
                #expect(log.contains("Starting audio generation for Book \(book), Page \(page) (attempt \(attempt),"))
            }
            #expect(!log.contains("Starting audio generation for Book \(book), Page \(page) (attempt 4,"))
        }

        var request = HTTPClientRequest(url: "\(cluster.base)/api/books/\(book)/retry/")
        request.method = .POST
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        #expect(response.status == .ok)
        let again = try await cluster.settle(book, timeout: .seconds(60))
        #expect((again["pages_status"] as? [String: Any])?["failed"] as? Int == 2)
        #expect(cluster.coordinator.output.components(separatedBy: "FAILED after 3 attempts").count - 1 == 4)
        await cluster.stop()
    }
}
