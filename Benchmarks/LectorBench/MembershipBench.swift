import ClusterTransport
import Foundation
import LectorTestSupport
import Synchronization

/// The `membership` group: N cluster nodes simulated in a few processes (`membership-host`), real
/// mutual TLS on loopback. For each N: how long until all see a joining node, how long until all
/// have a killed one `down`, what each node sends per second and holds open in steady state, and
/// the `down` verdicts a node stopped for 2 s (less than the failure timeout) draws.
struct MembershipBench {
    var sizes: [Int]
    var membership: ClusterSettings.MembershipProtocol
    /// SWIM's `idleConnectionTimeout` (nil: the default).
    var idleConnectionTimeout: Duration? = nil
    /// Processes the bulk of the nodes is spread over (two more hold the node killed and the node
    /// stopped, one more the node that joins).
    var hostProcesses = 4
    var heartbeat: Duration = .milliseconds(500)
    /// Between the start of one node and the next in each host process: the hosts start at once,
    /// so the cluster forms at about `hostProcesses` joins per interval.
    var startInterval: Duration = .milliseconds(100)
    var failureTimeout: Duration = .seconds(5)

    func run() async throws -> Figures {
        var figures: Figures = [
            "protocol": membership == .swim
                ? "SWIM (one probe a period, gossip piggybacked, connections on demand)"
                : "full mesh (every node heartbeats every other)",
            "failure_timeout_s": failureTimeout.seconds, "heartbeat_s": heartbeat.seconds,
        ]
        for size in sizes {
            do {
                figures["n\(size)"] = try await measure(size)
            } catch {
                print("Membership (\(membership.rawValue)) with \(size) nodes: not measured: \(error)")
                figures["n\(size)"] = ["nodes": size, "error": "\(error)"] as Figures
            }
        }
        // Growth of the per-node load, from the smallest to the largest size that formed.
        let formed = sizes.filter { (figures["n\($0)"] as? Figures)?["messages_per_node_s"] is Double }
        if let smallest = formed.first, let largest = formed.last, largest > smallest,
            let small = (figures["n\(smallest)"] as? Figures)?["messages_per_node_s"] as? Double,
            let large = (figures["n\(largest)"] as? Figures)?["messages_per_node_s"] as? Double
        {
            figures["messages_growth"] = ["from": smallest, "to": largest, "ratio": large / small] as Figures
        }
        return figures
    }

    private func measure(_ size: Int) async throws -> Figures {
        guard size >= 4 else { throw BenchError("a cluster of \(size) is too small to measure") }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lector-membership-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let authority = try CertificateAuthority.create(clusterName: "bench-membership")
        try Data(authority.certificatePEM.utf8).write(to: folder.appendingPathComponent("ca.pem"))
        try Data(authority.keyPEM.utf8).write(to: folder.appendingPathComponent("ca-key.pem"))

        let hosts = MembershipHosts(
            folder: folder, heartbeat: heartbeat, failureTimeout: failureTimeout, membership: membership,
            idleSeconds: idleConnectionTimeout.map { Int($0.components.seconds) } ?? 0)
        defer { hosts.stopAll() }
        let seedPort = try LoopbackPort.free()
        let seed = "127.0.0.1:\(seedPort)"
        let bulk = size - 2
        let perHost = (bulk + hostProcesses - 1) / hostProcesses
        var placed = 0
        for index in 0..<hostProcesses where placed < bulk {
            let count = min(perHost, bulk - placed)
            try hosts.start(
                "m\(index)", count: count, seed: index == 0 ? nil : seed, firstPort: index == 0 ? seedPort : 0,
                observer: index == 0, startInterval: startInterval)
            placed += count
        }
        try hosts.start("victim", count: 1, seed: seed)
        try hosts.start("sleeper", count: 1, seed: seed)
        let names = hosts.expectedNames

        // Formed: every node seen `up` by every other, and every node's registration in the
        // observer's listing (the coordinator's view of its workers).
        let started = ContinuousClock.now
        let settleLimit: Duration = .seconds(60 + size)
        var lastProgress = started
        let formed = try await hosts.waitUntil(timeout: settleLimit) { view in
            if ContinuousClock.now - lastProgress >= .seconds(10) {
                lastProgress = .now
                print(
                    "Membership (\(membership.rawValue)) \(size) nodes: forming, \(Int((lastProgress - started).seconds)) s: \(Self.progress(view, names: names, size: size))"
                )
                fflush(nil)  // shown as it happens, also when the output is a pipe
            }
            return names.allSatisfy { view.up[$0, default: 0] == size - 1 } && view.listed.count == size
        }
        guard formed else {
            throw BenchError(
                "not formed in \(Int(settleLimit.seconds)) s: \(Self.progress(hosts.view(), names: names, size: size))")
        }
        let formedSeconds = (ContinuousClock.now - started).seconds
        print("Membership (\(membership.rawValue)) \(size) nodes: formed in \(format(formedSeconds, 1)) s")

        // Steady state: what each node sends and holds.
        try await Task.sleep(for: .seconds(2))
        let before = hosts.view()
        let window: Duration = .seconds(5)
        let sampled = ContinuousClock.now
        try await Task.sleep(for: window)
        let after = hosts.view()
        let elapsed = (ContinuousClock.now - sampled).seconds
        let messages = Double(after.frames - before.frames) / Double(size) / elapsed
        let bytes = Double(after.bytes - before.bytes) / Double(size) / elapsed
        let connections = Double(after.connections) / Double(size)

        // A node starved of CPU for 2 s, less than the failure timeout: no `down` verdict anywhere.
        let verdictsBefore = hosts.view().verdicts
        hosts.signal("sleeper", SIGSTOP)
        try await Task.sleep(for: .seconds(2))
        hosts.signal("sleeper", SIGCONT)
        try await Task.sleep(for: failureTimeout + .seconds(2))
        let verdictsAfter = hosts.view().verdicts
        let falseVerdicts = verdictsAfter.values.reduce(0, +) - verdictsBefore.values.reduce(0, +)

        // A node joins: until every node already there sees it `up`.
        try hosts.start("joiner", count: 1, seed: seed)
        let joinStarted = try await hosts.waitForFirstReport("joiner")
        var listedSeconds = Double.nan
        let joined = try await hosts.waitUntil(timeout: .seconds(60)) { view in
            if listedSeconds.isNaN, view.listed.contains("joiner-0") {
                listedSeconds = (ContinuousClock.now - joinStarted).seconds
            }
            return view.up["joiner-0", default: 0] == size
        }
        let joinSeconds = joined ? (ContinuousClock.now - joinStarted).seconds : .nan
        if listedSeconds.isNaN, hosts.view().listed.contains("joiner-0") {
            listedSeconds = (ContinuousClock.now - joinStarted).seconds
        }

        // A node is killed: until no node sees it `up` or `suspect` any more.
        let killed = ContinuousClock.now
        hosts.signal("victim", SIGKILL)
        hosts.forget("victim")
        let detected = try await hosts.waitUntil(timeout: failureTimeout * 4) { view in
            view.live["victim-0", default: 0] == 0
        }
        let deathSeconds = detected ? (ContinuousClock.now - killed).seconds : .nan

        print(
            "Membership (\(membership.rawValue)) \(size) nodes: join seen by all \(format(joinSeconds, 2)) s, its registration listed by the observer \(format(listedSeconds, 2)) s, death down everywhere \(format(deathSeconds, 2)) s, \(format(messages, 1)) messages and \(format(bytes / 1024, 1)) KiB per node per s, \(format(connections, 1)) connections per node, \(falseVerdicts) false down verdicts"
        )
        return [
            "nodes": size, "formed_s": formedSeconds, "join_seen_by_all_s": joinSeconds,
            "join_listed_by_observer_s": listedSeconds,
            "death_down_everywhere_s": deathSeconds, "messages_per_node_s": messages, "bytes_per_node_s": bytes,
            "connections_per_node": connections, "false_down_verdicts": falseVerdicts,
        ]
    }
}

extension MembershipBench {
    /// How far a cluster has formed: views `up`, views `up` or `suspect` (the rest: not yet heard
    /// of, or `down`), registrations listed.
    static func progress(_ view: MembershipHosts.View, names: [String], size: Int) -> String {
        let up = names.reduce(0) { $0 + view.up[$1, default: 0] }
        let live = names.reduce(0) { $0 + view.live[$1, default: 0] }
        let least = names.map { ($0, view.up[$0, default: 0]) }.filter { $0.1 < size - 1 }.sorted { $0.1 < $1.1 }
        let lagging = least.prefix(4).map { "\($0.0) \($0.1)" }.joined(separator: ", ")
        return
            "\(up) of \(size * (size - 1)) views up, \(live) up or suspect, \(view.listed.count) of \(size) registrations listed, \(view.connections / max(size, 1)) connections per node; \(least.count) nodes not up everywhere\(least.isEmpty ? "" : " (least: \(lagging))")"
    }

    /// The summary table's rows for one protocol's run; SWIM's name the full mesh's figure at the
    /// same size as their baseline, and its goals.
    static func rows(_ figures: Figures, sizes: [Int], baseline: Figures?) -> [(String, String, String, String, String)]
    {
        let name = baseline == nil ? "full mesh" : "SWIM"
        let limit = (figures["failure_timeout_s"] as? Double ?? .nan) + 2
        var rows: [(String, String, String, String, String)] = []
        for size in sizes {
            guard let entry = figures["n\(size)"] as? Figures, entry["error"] == nil else {
                rows.append(("membership (\(name)), \(size) nodes", "not formed", "", "", ""))
                continue
            }
            let number = { (key: String) in entry[key] as? Double ?? .nan }
            let base = baseline?["n\(size)"] as? Figures
            let before = { (key: String, digits: Int) -> String in
                guard let base else { return "" }
                guard base["error"] == nil, let value = base[key] as? Double else { return "full mesh: not formed" }
                return "full mesh \(format(value, digits))"
            }
            let goals = baseline != nil && size >= 256
            rows.append(
                (
                    "membership (\(name)) \(size): join seen by all, s", format(number("join_seen_by_all_s"), 2),
                    before("join_seen_by_all_s", 2), "", goals ? "< 3" : ""
                ))
            rows.append(
                (
                    "membership (\(name)) \(size): joiner's registration listed, s",
                    format(number("join_listed_by_observer_s"), 2), before("join_listed_by_observer_s", 2), "",
                    goals ? "< 2" : ""
                ))
            rows.append(
                (
                    "membership (\(name)) \(size): killed node down by all, s",
                    format(number("death_down_everywhere_s"), 2), before("death_down_everywhere_s", 2), "",
                    goals ? "≤ \(format(limit, 0))" : ""
                ))
            rows.append(
                (
                    "membership (\(name)) \(size): messages per node per s", format(number("messages_per_node_s"), 1),
                    before("messages_per_node_s", 1), "\(format(number("bytes_per_node_s") / 1024, 1)) KiB/s", ""
                ))
            rows.append(
                (
                    "membership (\(name)) \(size): connections per node", format(number("connections_per_node"), 1),
                    before("connections_per_node", 1), "", ""
                ))
            rows.append(
                (
                    "membership (\(name)) \(size): false down, 2 s SIGSTOP",
                    "\(entry["false_down_verdicts"] as? Int ?? -1)", "", "", "0"
                ))
        }
        if let growth = figures["messages_growth"] as? Figures, let ratio = growth["ratio"] as? Double {
            rows.append(
                (
                    "membership (\(name)): messages per node, \(growth["to"] as! Int) / \(growth["from"] as! Int) nodes",
                    format(ratio, 2), "", "", baseline != nil ? "≤ 2" : ""
                ))
        }
        if baseline != nil, let size = sizes.filter({ $0 >= 256 }).max() {
            rows.append(
                ("membership (SWIM): the issue's goals at \(size) nodes", goalVerdict(figures, size: size), "", "", ""))
        }
        return rows
    }

    /// Which of the goals the figures at `size` meet: join seen by all < 3 s, registration listed
    /// < 2 s, death `down` everywhere within failure_timeout + 2 s, no false verdict, and messages
    /// per node within 2× of the smallest size's.
    static func goalVerdict(_ figures: Figures, size: Int) -> String {
        guard let entry = figures["n\(size)"] as? Figures, entry["error"] == nil else { return "not met: not formed" }
        let number = { (key: String) in entry[key] as? Double ?? .nan }
        let limit = (figures["failure_timeout_s"] as? Double ?? .nan) + 2
        let growth = ((figures["messages_growth"] as? Figures)?["ratio"] as? Double) ?? .nan
        let checks: [(String, Bool)] = [
            ("join", number("join_seen_by_all_s") < 3), ("registration", number("join_listed_by_observer_s") < 2),
            ("death", number("death_down_everywhere_s") <= limit),
            ("false down", entry["false_down_verdicts"] as? Int == 0), ("messages flat", growth <= 2),
        ]
        let missed = checks.filter { !$0.1 }.map(\.0)
        return missed.isEmpty
            ? "all \(checks.count) met"
            : "\(checks.count - missed.count) of \(checks.count) met (not: \(missed.joined(separator: ", ")))"
    }
}

/// The `membership-host` processes of one run and the last line each printed.
final class MembershipHosts: Sendable {
    /// All hosts' lines added up.
    struct View {
        var up: [String: Int] = [:]
        var live: [String: Int] = [:]
        var verdicts: [String: Int] = [:]
        var frames = 0
        var bytes = 0
        var connections = 0
        /// The node names in the observer's listing of every node's registration.
        var listed: Set<String> = []
    }

    private struct Host {
        var process: Process
        var names: [String]
        var last: MembershipHostCommand.Report?
        var firstReport: ContinuousClock.Instant?
        var pending = Data()
    }

    private let folder: URL
    private let heartbeat: Duration
    private let failureTimeout: Duration
    private let membership: ClusterSettings.MembershipProtocol
    private let idleSeconds: Int
    /// Process is not Sendable; every use of it is under this lock.
    private let hosts = Mutex<[String: Host]>([:])

    init(
        folder: URL, heartbeat: Duration, failureTimeout: Duration, membership: ClusterSettings.MembershipProtocol,
        idleSeconds: Int
    ) {
        self.idleSeconds = idleSeconds
        self.folder = folder
        self.heartbeat = heartbeat
        self.failureTimeout = failureTimeout
        self.membership = membership
    }

    var expectedNames: [String] {
        hosts.withLock { $0.values.flatMap(\.names) }.sorted()
    }

    /// `startInterval`: between one node of the host and the next (a cluster of hundreds is not
    /// started in one instant: all its joins at once only measure a stampede of TLS handshakes).
    func start(
        _ prefix: String, count: Int, seed: String?, firstPort: Int = 0, observer: Bool = false,
        startInterval: Duration = .zero
    ) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        process.arguments =
            [
                "membership-host", "--ca", folder.path, "--prefix", prefix, "--count", "\(count)",
                "--first-port", "\(firstPort)", "--heartbeat-ms", "\(Int(heartbeat.milliseconds))",
                "--failure-timeout-ms", "\(Int(failureTimeout.milliseconds))", "--membership", membership.rawValue,
                "--idle-seconds", "\(idleSeconds)", "--start-interval-ms", "\(Int(startInterval.milliseconds))",
            ] + (seed.map { ["--seed", $0] } ?? []) + (observer ? ["--observer"] : [])
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                return
            }
            self?.take(data, from: prefix)
        }
        hosts.withLock {
            $0[prefix] = Host(process: process, names: (0..<count).map { "\(prefix)-\($0)" })
            try? $0[prefix]?.process.run()
        }
        guard hosts.withLock({ $0[prefix]?.process.isRunning }) == true else {
            throw BenchError("membership-host \(prefix) did not start")
        }
    }

    private func take(_ data: Data, from prefix: String) {
        let decoder = JSONDecoder()
        hosts.withLock { hosts in
            guard var host = hosts[prefix] else { return }
            host.pending += data
            while let newline = host.pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = host.pending[host.pending.startIndex..<newline]
                host.pending = Data(host.pending[host.pending.index(after: newline)...])
                if let report = try? decoder.decode(MembershipHostCommand.Report.self, from: line) {
                    host.last = report
                    if host.firstReport == nil { host.firstReport = .now }
                }
            }
            // A line is a few KiB at most; anything longer is not one of ours.
            if host.pending.count > 1 << 20 { host.pending = Data() }
            hosts[prefix] = host
        }
    }

    func view() -> View {
        hosts.withLock { hosts in
            var view = View()
            for host in hosts.values {
                guard let last = host.last else { continue }
                for (name, count) in last.up { view.up[name, default: 0] += count }
                for (name, count) in last.live { view.live[name, default: 0] += count }
                for (name, count) in last.downVerdicts { view.verdicts[name, default: 0] += count }
                if let listed = last.listed { view.listed.formUnion(listed) }
                view.frames += last.frames
                view.bytes += last.bytes
                view.connections += last.connections
            }
            return view
        }
    }

    /// Polls every 50 ms, for at most `timeout`; whether `condition` came true.
    func waitUntil(timeout: Duration, _ condition: (View) -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if condition(view()) { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return condition(view())
    }

    /// When the host's nodes were all listening (its first line).
    func waitForFirstReport(_ prefix: String) async throws -> ContinuousClock.Instant {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if let first = hosts.withLock({ $0[prefix]?.firstReport }) { return first }
            try await Task.sleep(for: .milliseconds(5))
        }
        throw BenchError("membership-host \(prefix) never reported")
    }

    func signal(_ prefix: String, _ signal: Int32) {
        hosts.withLock {
            if let pid = $0[prefix]?.process.processIdentifier, pid > 0 { kill(pid, signal) }
        }
    }

    /// Its last line no longer counts (a killed host says nothing more).
    func forget(_ prefix: String) {
        hosts.withLock { $0[prefix]?.last = nil }
    }

    func stopAll() {
        hosts.withLock { hosts in
            for host in hosts.values where host.process.isRunning {
                kill(host.process.processIdentifier, SIGKILL)
                host.process.waitUntilExit()
            }
            hosts = [:]
        }
    }
}
