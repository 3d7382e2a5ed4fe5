import ArgumentParser
import ClusterTransport
import Coordinator
import Distributed
import Foundation
import Logging

/// A page worker that answers every job at once with no audio, so the dispatch benchmark measures
/// the coordinator, SQLite and the transport alone. It lives only in the benchmark binary: no
/// setting or variable can turn a deployed `lector worker` into one.
distributed actor NoopWorker: PageSynthesizing {
    typealias ActorSystem = ClusterSystem
    let concurrency: Int

    init(actorSystem: ClusterSystem, concurrency: Int) {
        self.actorSystem = actorSystem
        self.concurrency = concurrency
    }

    distributed func capacity() -> Int { concurrency }
    distributed func ocrLanguages() -> [String] { [] }
    distributed func voices() -> [VoiceInfo] { [] }
    distributed func stageImage(lease: UUID, offset: Int, chunk: Data) {}
    distributed func synthesize(_ job: PageJob) -> PageResult {
        PageResult(audioBytes: 0, durationSeconds: 0, voice: nil, textSource: job.textSource)
    }
    distributed func audioPiece(lease: UUID, offset: Int, length: Int) -> AudioPiece {
        AudioPiece(data: Data(), complete: true)  // a no-op job has no audio
    }
    distributed func releaseAudio(lease: UUID) {}
}

/// `lector-bench noop-worker`: one NoopWorker process joining a dev cluster's coordinator, with a
/// certificate issued from the dev cluster's CA.
struct NoopWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "noop-worker", shouldDisplay: false)

    @Option var data: String
    @Option var name: String
    @Option var concurrency: Int = 32
    @Option var membership = "full-mesh"

    func run() async throws {
        let folder = URL(fileURLWithPath: data)
        let authority = try CertificateAuthority(
            certificatePEM: String(contentsOf: folder.appendingPathComponent("certs/ca.pem"), encoding: .utf8),
            keyPEM: String(contentsOf: folder.appendingPathComponent("certs/ca-key.pem"), encoding: .utf8))
        let pair = try authority.issue(nodeName: name, role: "worker", hosts: ["127.0.0.1"])
        let coordinator = try Self.coordinatorAddress(in: folder.appendingPathComponent("cluster.yaml"))
        var settings = ClusterSettings(
            name: name, role: "worker", host: "127.0.0.1", port: 0,
            credentials: try ClusterCredentials(
                caPEM: try authority.certificatePEM, certificatePEM: pair.certificatePEM, keyPEM: pair.keyPEM),
            seeds: [.init(host: coordinator.host, port: coordinator.port)])
        settings.heartbeatInterval = .milliseconds(500)
        settings.membershipProtocol = ClusterSettings.MembershipProtocol(rawValue: membership) ?? .fullMesh
        let system = try await ClusterSystem.start(settings: settings, logger: Logger(label: "bench.noop"))
        let worker = NoopWorker(actorSystem: system, concurrency: concurrency)
        system.receptionist.register(worker, key: pageWorkerKey)
        // Until the benchmark ends this process (or its parent goes away).
        let parent = getppid()
        while getppid() == parent { try await Task.sleep(for: .milliseconds(500)) }
        _ = worker
        await system.shutdown()
    }

    /// The coordinator's `listen:` in the cluster.yaml `lector dev` wrote.
    static func coordinatorAddress(in file: URL) throws -> (host: String, port: Int) {
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard let start = lines.firstIndex(of: "- name: coordinator"),
            let listen = lines[start...].first(where: { $0.hasPrefix("listen:") }),
            let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...])
        else { throw BenchError("no coordinator in \(file.path)") }
        let host = listen.dropFirst("listen:".count).prefix { $0 != ":" }.trimmingCharacters(in: .whitespaces)
        return (host, port)
    }
}

extension NoopWorker: CallerRoles {
    static func allowedRoles(forMethod method: String) -> Set<String>? { [NodeRole.coordinator] }
}
