import ArgumentParser
import ClusterTransport
import Distributed
import Foundation
import Logging
import Synchronization

/// `lector-bench membership-host`: `count` cluster nodes in one process (real TLS on loopback, one
/// listener each), joined by address to one seed, printing ten times a second one JSON line of what
/// they see and send. The membership benchmark runs a few of these to simulate a large cluster.
///
/// Every node registers one actor under `benchMemberKey`, as every worker registers under
/// `page-worker`; the first node of the `--observer` host looks the key up, as the coordinator
/// does, and its listing's node names are reported too.
struct MembershipHostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "membership-host", shouldDisplay: false)

    @Option(help: "Folder with ca.pem and ca-key.pem.") var ca: String
    @Option var prefix: String
    @Option var count: Int
    @Option(help: "HOST:PORT every node here joins (none: the first node here is the seed).") var seed: String?
    @Option(help: "Port of the first node here (0: any).") var firstPort = 0
    @Option var heartbeatMs = 500
    @Option var failureTimeoutMs = 5000
    @Option(help: "full-mesh or swim.") var membership = "full-mesh"
    @Option(help: "SWIM: seconds an unused connection stays open (0: the default).") var idleSeconds = 0
    @Option(help: "Milliseconds between starting one node here and the next.") var startIntervalMs = 0
    @Flag(help: "The first node here looks up every node's registration and reports its listing.")
    var observer = false

    func run() async throws {
        guard (1...512).contains(count) else { throw ValidationError("--count must be 1...512") }
        guard let membership = ClusterSettings.MembershipProtocol(rawValue: membership) else {
            throw ValidationError("--membership must be full-mesh or swim")
        }
        let folder = URL(fileURLWithPath: ca)
        let authority = try CertificateAuthority(
            certificatePEM: String(contentsOf: folder.appendingPathComponent("ca.pem"), encoding: .utf8),
            keyPEM: String(contentsOf: folder.appendingPathComponent("ca-key.pem"), encoding: .utf8))
        var seeds: [ClusterSettings.Seed] = []
        if let seed, let colon = seed.lastIndex(of: ":"), let port = Int(seed[seed.index(after: colon)...]) {
            seeds = [.init(host: String(seed[..<colon]), port: port)]
        }
        var logger = Logger(label: "bench.membership")
        logger.logLevel = .error
        var systems: [ClusterSystem] = []
        var members: [BenchMember] = []
        for index in 0..<count {
            let name = "\(prefix)-\(index)"
            let pair = try authority.issue(nodeName: name, role: "worker", hosts: ["127.0.0.1"])
            var settings = ClusterSettings(
                name: name, role: "worker", host: "127.0.0.1", port: index == 0 ? firstPort : 0,
                credentials: try ClusterCredentials(
                    caPEM: try authority.certificatePEM, certificatePEM: pair.certificatePEM, keyPEM: pair.keyPEM),
                seeds: seeds)
            settings.heartbeatInterval = .milliseconds(heartbeatMs)
            settings.failureTimeout = .milliseconds(failureTimeoutMs)
            settings.membershipProtocol = membership
            if idleSeconds > 0 { settings.idleConnectionTimeout = .seconds(idleSeconds) }
            let system = try await ClusterSystem.start(settings: settings, logger: logger)
            systems.append(system)
            let member = BenchMember(actorSystem: system)
            system.receptionist.register(member, key: benchMemberKey)
            members.append(member)
            // The later nodes here join through the first when there is no seed elsewhere.
            if seeds.isEmpty { seeds = [.init(host: "127.0.0.1", port: system.node.port)] }
            if startIntervalMs > 0, index < count - 1 { try await Task.sleep(for: .milliseconds(startIntervalMs)) }
        }
        let verdicts = DownVerdicts()
        for system in systems { verdicts.watch(system) }
        let parent = getppid()
        let watching = observer ? systems.first : nil
        let encoder = JSONEncoder()
        while getppid() == parent {
            var line = try encoder.encode(Self.report(systems, verdicts: verdicts.counts, observer: watching))
            line.append(UInt8(ascii: "\n"))
            FileHandle.standardOutput.write(line)
            try await Task.sleep(for: .milliseconds(100))
        }
        _ = members
        for system in systems { await system.shutdown() }
    }

    /// One line of what the nodes here see and send. Encoded with `Codable`: at 64 nodes of 256
    /// members each, `JSONSerialization` of `[String: Any]` took a tenth of the machine's CPU.
    struct Report: Codable {
        /// For each member name: how many nodes here see it `up`, and `up` or `suspect`.
        var up: [String: Int] = [:]
        var live: [String: Int] = [:]
        /// The verdicts of `down` reached about each member so far.
        var downVerdicts: [String: Int] = [:]
        var frames = 0
        var bytes = 0
        var connections = 0
        /// The observer's listing of every node's registration.
        var listed: [String]?
    }

    static func report(_ systems: [ClusterSystem], verdicts: [String: Int], observer: ClusterSystem?) -> Report {
        var report = Report(downVerdicts: verdicts)
        for system in systems {
            for member in system.memberStatuses where member.name != system.node.name {
                if member.status == .up { report.up[member.name, default: 0] += 1 }
                if member.status != .down { report.live[member.name, default: 0] += 1 }
            }
            let traffic = system.traffic
            report.frames += traffic.framesSent
            report.bytes += traffic.bytesSent
            report.connections += traffic.openConnections
        }
        report.listed = observer?.receptionist.lookup(benchMemberKey).map(\.node.name)
        return report
    }
}

/// Counts each node's changes of a peer to `down`, from its membership updates (a poll would miss
/// a verdict taken back within a tenth of a second).
final class DownVerdicts: Sendable {
    private let state = Mutex<[String: Int]>([:])

    var counts: [String: Int] { state.withLock { $0 } }

    func watch(_ system: ClusterSystem) {
        Task { [self] in
            var last: [String: MemberStatus] = [:]
            for await members in system.membershipUpdates() {
                for member in members where !member.isLocal {
                    if member.status == .down, last[member.name] != .down {
                        state.withLock { $0[member.name, default: 0] += 1 }
                    }
                    last[member.name] = member.status
                }
            }
        }
    }
}

let benchMemberKey = "bench-member"

/// What each simulated node registers: an actor nobody calls, only listed.
distributed actor BenchMember {
    typealias ActorSystem = ClusterSystem
}
