import AsyncHTTPClient
import ClusterTransport
import Foundation
import LectorTestSupport
import NIOCore
import NIOFoundationCompat

/// A `lector dev` cluster in child processes, as `make run` starts it, for one benchmark.
final class DevCluster {
    let process = Process()
    let folder: URL
    let base: String

    /// Worker processes of the benchmark binary itself (`noop-worker`), when a run asks for them.
    var noopWorkers: [Process] = []

    /// `noopWorkerCount` > 0 starts the dev cluster without workers and joins that many no-op worker
    /// processes instead.
    /// `voices`: the natural voices' folder for the workers (nil: espeak-ng only).
    /// `store`: a PostgreSQL URL for the coordinator's books (nil: SQLite).
    init(
        lector: URL, workers: Int, concurrency: Int, noopWorkerCount: Int = 0, voices: String? = nil,
        store: String? = nil, membership: ClusterSettings.MembershipProtocol = .fullMesh
    ) async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("lector-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let port = try LoopbackPort.free()
        base = "http://127.0.0.1:\(port)"
        process.executableURL = lector
        process.arguments =
            [
                "dev", "--http", "127.0.0.1:\(port)", "--workers", "\(noopWorkerCount > 0 ? 0 : workers)",
                "--concurrency", "\(concurrency)",
                "--data", folder.appendingPathComponent("data").path,
                "--membership", membership.rawValue,
            ] + (store.map { ["--store", $0] } ?? [])
        var environment = ProcessInfo.processInfo.environment
        environment["LOG_LEVEL"] = "warning"
        // Each pipeline is measured against a loop of its engine: espeak-ng unless asked.
        environment["LECTOR_VOICES"] = voices ?? "none"
        process.environment = environment
        let log = folder.appendingPathComponent("cluster.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        if noopWorkerCount > 0 {
            let config = folder.appendingPathComponent("data/cluster.yaml")
            let started = ContinuousClock.now
            while !FileManager.default.fileExists(atPath: config.path), ContinuousClock.now - started < .seconds(30) {
                try await Task.sleep(for: .milliseconds(100))
            }
            try await Task.sleep(for: .seconds(1))  // the coordinator's transport up
            for index in 1...noopWorkerCount {
                let worker = Process()
                worker.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
                worker.arguments = [
                    "noop-worker", "--data", folder.appendingPathComponent("data").path, "--name",
                    "bench-worker-\(index)", "--concurrency", "\(concurrency)", "--membership", membership.rawValue,
                ]
                worker.standardOutput = handle
                worker.standardError = handle
                try worker.run()
                noopWorkers.append(worker)
            }
        }
        let expected = (noopWorkerCount > 0 ? noopWorkerCount : workers) + 2
        // A node more is a few more connections and pings for each: allow for a wide cluster.
        let deadline = ContinuousClock.now + .seconds(60 + expected)
        while ContinuousClock.now < deadline {
            if let cluster = try? await get("/api/cluster/") as? [String: Any],
                let nodes = cluster["nodes"] as? [[String: Any]], nodes.count == expected,
                nodes.allSatisfy({ $0["state"] as? String == "up" })
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let kept = FileManager.default.temporaryDirectory.appendingPathComponent(
            "lector-bench-failed-\(UUID().uuidString).log")
        try? FileManager.default.copyItem(at: log, to: kept)
        stop()
        throw BenchError(
            "the dev cluster of \(expected) nodes did not come up in \(60 + expected) s (its log: \(kept.path))")
    }

    func stop() {
        for worker in noopWorkers where worker.isRunning { worker.terminate() }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: folder)
    }

    /// The pid of this cluster's coordinator process (a child of the dev supervisor).
    func coordinatorPID() -> Int32? {
        let data = folder.appendingPathComponent("data").path
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(entry),
                let raw = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { continue }
            let arguments = raw.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if arguments.contains("coordinator"), arguments.contains(where: { $0.hasPrefix(data) }) { return pid }
        }
        return nil
    }

    /// CPU seconds (user and system) a process has used so far, from `/proc/<pid>/stat`; nil once
    /// it is gone.
    static func cpuSeconds(of pid: Int32) -> Double? {
        guard let raw = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: raw, as: UTF8.self)
        // The command name is in parentheses and may hold spaces: count fields after its end.
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // utime and stime are the stat file's fields 14 and 15; the first after ")" is field 3.
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// CPU seconds used so far by the coordinator process and by the no-op workers together.
    func cpuSeconds() -> (coordinator: Double, workers: Double) {
        let coordinator = coordinatorPID().flatMap(Self.cpuSeconds(of:)) ?? 0
        let workers = noopWorkers.compactMap { Self.cpuSeconds(of: $0.processIdentifier) }.reduce(0, +)
        return (coordinator, workers)
    }

    /// `data` of a JSON answer.
    func get(_ path: String) async throws -> Any? {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: base + path), timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        let json = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
        guard response.status == .ok else { throw BenchError("GET \(path): \(response.status) \(json ?? [:])") }
        return json?["data"]
    }

    /// Uploads a PDF as a raw body; returns the book id once its text is extracted.
    func upload(_ pdf: Data, title: String) async throws -> Int {
        try await Self.upload(pdf, title: title, base: base)
    }

    static func upload(_ pdf: Data, title: String, base: String) async throws -> Int {
        var request = HTTPClientRequest(url: base + "/api/books/upload/?title=\(title)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/pdf")
        request.body = .bytes(ByteBuffer(bytes: pdf))
        let response = try await HTTPClient.shared.execute(request, timeout: .minutes(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        let json = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
        guard response.status == .ok, let id = (json?["data"] as? [String: Any])?["book_id"] as? Int else {
            throw BenchError("upload of \(title) failed: \(response.status) \(String(buffer: body))")
        }
        return id
    }

    /// Follows the book's events until `book_completed`; returns when each event name was first
    /// and last seen.
    func follow(_ book: Int) async throws -> (firstCompleted: ContinuousClock.Instant?, done: ContinuousClock.Instant) {
        try await Self.follow(book, base: base)
    }

    static func follow(_ book: Int, base: String) async throws -> (
        firstCompleted: ContinuousClock.Instant?, done: ContinuousClock.Instant
    ) {
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: base + "/api/books/\(book)/events/"), timeout: .hours(2))
        var firstCompleted: ContinuousClock.Instant?
        var pending = ""
        for try await chunk in response.body {
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let block = pending[..<end.lowerBound]
                pending = String(pending[end.upperBound...])
                if block.contains("event: page_completed"), firstCompleted == nil { firstCompleted = .now }
                if block.contains("event: book_completed") { return (firstCompleted, .now) }
            }
        }
        throw BenchError("the events of book \(book) ended before book_completed")
    }

}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
