import AsyncHTTPClient
import Foundation
import LectorTestSupport
import NIOCore

/// How long a book stands still when its coordinator dies: from `kill -9` of the active
/// coordinator to the first job the next one hands out, as `/api/cluster/` shows it (a worker
/// with a current job again). With PostgreSQL a standby takes over once the lease runs out (goal:
/// under failure_timeout + 1 s); the baseline, measured in the same run, is the lone SQLite
/// coordinator started again at once by its supervisor.
struct TakeoverBench {
    var lector: URL
    var rounds = 3
    /// The cluster's failure timeout, which is also the lease's length.
    var failureTimeout = 3.0

    func run() async throws -> Figures {
        let restart = try await measure(postgres: nil)
        let takeover = try await measure(postgres: try await PostgresServer.shared.freshDatabase())
        let goal = failureTimeout + 1
        let ratio = takeover.median / restart.median
        print(
            "Takeover (kill -9 of the active coordinator → first job by the standby): median \(format(takeover.median, 2)) s, worst \(format(takeover.worst, 2)) s (goal < \(format(goal, 1)) s); a lone SQLite coordinator restarted at once: \(format(restart.median, 2)) s"
        )
        return [
            "takeover_median_s": takeover.median, "takeover_worst_s": takeover.worst,
            "takeover_rounds_s": takeover.rounds, "restart_median_s": restart.median,
            "restart_rounds_s": restart.rounds, "takeover_to_restart_ratio": ratio,
            "goal_s": goal, "worst_to_goal_ratio": takeover.worst / goal, "failure_timeout_s": failureTimeout,
        ]
    }

    struct Rounds {
        var rounds: [Double]
        var median: Double { rounds.sorted()[rounds.count / 2] }
        var worst: Double { rounds.max() ?? 0 }
    }

    private func measure(postgres: String?) async throws -> Rounds {
        let cluster = try await NodeProcesses(lector: lector, postgres: postgres, failureTimeout: failureTimeout)
        defer { cluster.stop() }
        let pdf = PDFWriter.pdf(pages: (1...600).map { "Page \($0). A short sentence keeps the workers busy." })
        let book = try await cluster.upload(pdf)
        var seconds: [Double] = []
        for _ in 0..<rounds {
            try await cluster.waitForJob()
            let active = try await cluster.activeCoordinator()
            let killed = ContinuousClock.now
            cluster.kill9(active)
            // A supervisor starts the lone coordinator again; a killed standby-to-be comes back later.
            if postgres == nil { try cluster.start(active) }
            // Dead at once: what the gateway shows from now on comes from the next coordinator.
            try await cluster.waitForJob(after: active, killedAt: killed, postgres: postgres != nil)
            seconds.append((ContinuousClock.now - killed).seconds)
            if postgres != nil { try cluster.start(active) }
            try await Task.sleep(for: .seconds(2))
        }
        _ = book
        return Rounds(rounds: seconds)
    }
}

/// A cluster.yaml with a gateway, one or two coordinators and two espeak-ng workers, each node its
/// own `lector` process, so one can be killed alone.
final class NodeProcesses {
    let lector: URL
    let folder: URL
    let config: URL
    let base: String
    var processes: [String: Process] = [:]
    let coordinators: [String]

    init(lector: URL, postgres: String?, failureTimeout: Double) async throws {
        self.lector = lector
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("lector-takeover-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("logs"), withIntermediateDirectories: true)
        config = folder.appendingPathComponent("cluster.yaml")
        coordinators = postgres == nil ? ["coordinator"] : ["coordinator", "coordinator-2"]
        let http = try LoopbackPort.free()
        base = "http://127.0.0.1:\(http)"
        var yaml = """
            cluster: takeover
            tls: {ca: certs/ca.pem, ca_key: certs/ca-key.pem, dir: certs}
            timings: {heartbeat_interval: 250ms, failure_timeout: \(Int(failureTimeout * 1000))ms, call_timeout: 5s}
            \(postgres.map { "store: {postgres: \"\($0)\"}" } ?? "")
            nodes:
              - {name: gateway, role: gateway, listen: "127.0.0.1:\(try LoopbackPort.free())", http: "127.0.0.1:\(http)"}

            """
        for name in coordinators {
            yaml +=
                "  - {name: \(name), role: coordinator, listen: \"127.0.0.1:\(try LoopbackPort.free())\", database: data/\(name).sqlite, audio_dir: data/\(name)-audio}\n"
        }
        for index in 1...2 {
            yaml +=
                "  - {name: worker-\(index), role: worker, listen: \"127.0.0.1:\(try LoopbackPort.free())\", concurrency: 1}\n"
        }
        try Data(yaml.utf8).write(to: config)
        let certs = Process()
        certs.executableURL = lector
        certs.arguments = ["certs", "--config", config.path]
        certs.standardOutput = FileHandle.nullDevice
        try certs.run()
        certs.waitUntilExit()
        guard certs.terminationStatus == 0 else { throw BenchError("lector certs failed for the takeover cluster") }
        for name in ["gateway"] + coordinators + ["worker-1", "worker-2"] { try start(name) }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let active = try? await activeCoordinator(), !active.isEmpty { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        stop()
        throw BenchError("the takeover cluster did not come up (logs in \(folder.path)/logs)")
    }

    func start(_ name: String) throws {
        let role = name.hasPrefix("worker") ? "worker" : name.hasPrefix("coordinator") ? "coordinator" : "gateway"
        let process = Process()
        process.executableURL = lector
        process.arguments = [role, "--config", config.path, "--node", name]
        var environment = ProcessInfo.processInfo.environment
        environment["LECTOR_VOICES"] = "none"
        environment["LOG_LEVEL"] = "warning"
        process.environment = environment
        let log = folder.appendingPathComponent("logs/\(name).log")
        if !FileManager.default.fileExists(atPath: log.path) {
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        }
        let handle = try FileHandle(forWritingTo: log)
        handle.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes[name] = process
    }

    func kill9(_ name: String) {
        guard let process = processes[name], process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func stop() {
        for process in processes.values where process.isRunning { process.terminate() }
        for process in processes.values { process.waitUntilExit() }
        try? FileManager.default.removeItem(at: folder)
    }

    func cluster() async throws -> [String: Any] {
        let response = try await HTTPClient.shared.execute(
            HTTPClientRequest(url: base + "/api/cluster/"), timeout: .seconds(5))
        let body = try await response.body.collect(upTo: 1 << 20)
        let json = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
        return json?["data"] as? [String: Any] ?? [:]
    }

    func activeCoordinator() async throws -> String {
        let coordinator = try await cluster()["coordinator"] as? [String: Any]
        guard let active = coordinator?["active"] as? String else { throw BenchError("no active coordinator") }
        return active
    }

    /// A worker shows a current job (handed out by the coordinator that answers now); after a
    /// kill, only once it is answered by a coordinator other than the dead one, or (SQLite) by
    /// the restarted one after the dead one stopped answering.
    func waitForJob(after dead: String? = nil, killedAt: ContinuousClock.Instant? = nil, postgres: Bool = false)
        async throws
    {
        let deadline = ContinuousClock.now + .seconds(60)
        var deadSeen = dead == nil
        while ContinuousClock.now < deadline {
            if let data = try? await cluster() {
                let active = (data["coordinator"] as? [String: Any])?["active"] as? String
                if active == nil || (postgres && active != dead) { deadSeen = true }
                let nodes = data["nodes"] as? [[String: Any]] ?? []
                let busy = nodes.contains { ($0["current_job"] as? String) != nil }
                if deadSeen, busy, active != nil, !(postgres && active == dead) { return }
            } else {
                deadSeen = true
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw BenchError("no job was handed out within a minute (logs in \(folder.path)/logs)")
    }

    func upload(_ pdf: Data) async throws -> Int {
        try await DevCluster.upload(pdf, title: "takeover", base: base)
    }
}
