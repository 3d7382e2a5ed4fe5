import Foundation
import LectorTestSupport

/// A cluster.yaml with free loopback ports in a fresh folder, and its certificates made by
/// `lector certs`: what an operator would set up, on one machine.
struct TestClusterFiles {
    let folder: URL
    let configPath: String
    let ports: [String: Int]
    let httpPort: Int

    /// `coordinators` beyond one are `coordinator-2`, `coordinator-3`, … (standbys; PostgreSQL only).
    init(
        workers: Int = 2, extra: String = "", timings: String = "", coordinators: Int = 1,
        heartbeat: String = "200ms", failureTimeout: String = "3s"
    ) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "lector-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var ports: [String: Int] = [:]
        let standbys = coordinators > 1 ? (2...coordinators).map { "coordinator-\($0)" } : []
        for name in ["gateway", "coordinator"] + standbys + (1...max(workers, 1)).map({ "worker-\($0)" }) {
            ports[name] = try LoopbackPort.free()
        }
        self.ports = ports
        httpPort = try LoopbackPort.free()
        var yaml = """
            cluster: test
            tls:
              ca: certs/ca.pem
              ca_key: certs/ca-key.pem
              dir: certs
            timings:
              heartbeat_interval: \(heartbeat)
              failure_timeout: \(failureTimeout)
              call_timeout: 5s
            \(timings)
            \(extra)
            nodes:
              - name: coordinator
                role: coordinator
                listen: 127.0.0.1:\(ports["coordinator"]!)
                database: data/lector.sqlite
                audio_dir: data/audio
              - name: gateway
                role: gateway
                listen: 127.0.0.1:\(ports["gateway"]!)
                http: 127.0.0.1:\(httpPort)

            """
        for name in standbys {
            yaml += """
                  - name: \(name)
                    role: coordinator
                    listen: 127.0.0.1:\(ports[name]!)
                    database: data/\(name).sqlite
                    audio_dir: data/\(name)-audio

                """
        }
        for index in 0..<workers {
            yaml += """
                  - name: worker-\(index + 1)
                    role: worker
                    listen: 127.0.0.1:\(ports["worker-\(index + 1)"]!)
                    concurrency: 1

                """
        }
        configPath = folder.appendingPathComponent("cluster.yaml").path
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: configPath))
    }

    var logs: URL { folder.appendingPathComponent("logs") }
    var baseURL: String { "http://127.0.0.1:\(httpPort)" }

    func makeCertificates() async throws {
        let result = try await LectorProcess.run(["certs", "--config", configPath])
        guard result.status == 0 else { throw TestFailure("lector certs failed: \(result.output)") }
    }

    func start(_ role: String, node: String, environment: [String: String] = [:]) throws -> LectorProcess {
        try FileManager.default.createDirectory(at: logs, withIntermediateDirectories: true)
        return try LectorProcess(
            node, arguments: [role, "--config", configPath, "--node", node], logDirectory: logs,
            environment: environment)
    }

    func remove() {
        try? FileManager.default.removeItem(at: folder)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
