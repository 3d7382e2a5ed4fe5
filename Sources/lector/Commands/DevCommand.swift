import ArgumentParser
import ClusterTransport
import Coordinator
import Foundation
import Logging
import ServiceLifecycle

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dev",
        abstract:
            "Run the whole cluster on this machine: gateway, coordinator and N worker processes over mutual TLS."
    )

    @Option(help: "HOST:PORT of the HTTP API and web page.") var http: String = "127.0.0.1:8000"
    @Option(help: "Number of worker processes (0: none; add them with `lector worker --join`).") var workers: Int = 2
    @Option(help: "Pages each worker synthesises at once (2 keeps espeak-ng and LAME both busy).") var concurrency:
        Int = 2
    @Option(help: "Folder for the database, audio, certificates and the generated cluster.yaml.")
    var data: String = "lector-data"
    @Option(help: "Keep books in PostgreSQL at this URL (postgres://USER@HOST:PORT/DB) instead of SQLite.")
    var store: String?
    @Option(help: "How nodes watch each other: full-mesh (every node heartbeats every other) or swim.")
    var membership: String = "full-mesh"

    func validate() throws {
        guard ClusterSettings.MembershipProtocol(rawValue: membership) != nil else {
            throw ValidationError("--membership must be full-mesh or swim")
        }
        guard (0...64).contains(workers) else {
            throw ValidationError("--workers must be between 0 and 64")
        }
        guard (1...64).contains(concurrency) else {
            throw ValidationError("--concurrency must be between 1 and 64")
        }
        if let store {
            do {
                _ = try CoordinatorSettings.Store.postgres(checking: store)
            } catch {
                throw ValidationError("--store: \(error)")
            }
        }
    }

    func run() async throws {
        LogSetup.bootstrap()
        let logger = Logger(label: "lector.dev")
        let dataURL = URL(fileURLWithPath: data, isDirectory: true).standardizedFileURL
        try FileManager.default.createDirectory(at: dataURL, withIntermediateDirectories: true)
        guard let colon = http.lastIndex(of: ":"), let httpPort = Int(http[http.index(after: colon)...])
        else {
            throw ValidationError("--http must be HOST:PORT, got '\(http)'")
        }
        let httpHost = String(http[..<colon])
        let configPath = try DevClusterFile.write(
            to: dataURL, httpHost: httpHost,
            httpPort: httpPort == 0 ? try FreePort.pick(host: httpHost) : httpPort,
            workers: workers, concurrency: concurrency, store: store, membership: membership)
        let config = try ClusterConfig.load(path: configPath)
        let made = try CertificateFiles.ensure(config: config, nodes: config.nodes.map(\.name))
        if made.createdAuthority || !made.issued.isEmpty {
            logger.info("dev certificates written to \(config.path(config.tls.dir))")
        }
        let supervisor = DevSupervisor(configPath: configPath, config: config, logger: logger)
        let group = ServiceGroup(
            configuration: .init(
                services: [.init(service: supervisor)], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
    }
}

enum DevClusterFile {
    /// Writes `cluster.yaml` for a dev cluster with transport ports picked free now, so two dev
    /// clusters can run side by side.
    static func write(
        to folder: URL, httpHost: String, httpPort: Int, workers: Int, concurrency: Int, store: String? = nil,
        membership: String = "full-mesh"
    ) throws -> String {
        var yaml = """
            # Written by `lector dev` at every start: the transport ports are picked anew each time.
            cluster: lector-dev
            tls:
              ca: certs/ca.pem
              ca_key: certs/ca-key.pem
              dir: certs
            timings:
              heartbeat_interval: 500ms
              failure_timeout: 5s
              call_timeout: 10s
              job_lease: 120s
              max_attempts: 3
            \(store.map { "store:\n  postgres: \"\($0)\"" } ?? "")
            transport:
              membership: \(membership)
            nodes:
              - name: coordinator
                role: coordinator
                listen: 127.0.0.1:\(try FreePort.pick())
                database: lector.sqlite
                audio_dir: audio
              - name: gateway
                role: gateway
                listen: 127.0.0.1:\(try FreePort.pick())
                http: \(httpHost):\(httpPort)

            """
        for index in stride(from: 1, through: workers, by: 1) {
            yaml += """
                  - name: worker-\(index)
                    role: worker
                    listen: 127.0.0.1:\(try FreePort.pick())
                    concurrency: \(concurrency)

                """
        }
        let path = folder.appendingPathComponent("cluster.yaml").path
        try Data(yaml.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        return path
    }
}
