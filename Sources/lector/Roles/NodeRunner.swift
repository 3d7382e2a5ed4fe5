import ClusterTransport
import Coordinator
import Foundation
import Gateway
import Logging
import PageWorker
import ServiceLifecycle

/// Starts one node of a deployment: its actor system, the actors of its role, and (for a gateway)
/// the HTTP server; runs until SIGTERM or SIGINT.
struct NodeRunner {
    /// A worker that is not in cluster.yaml and joins through a running node.
    struct Joiner {
        var name: String
        var join: ClusterConfig.HostPort
        var listen: ClusterConfig.HostPort
        var advertise: String?
        var concurrency: Int
    }

    let config: ClusterConfig

    func settings(
        name: String, role: ClusterConfig.Role, listen: ClusterConfig.HostPort, advertise: String?,
        seeds: [ClusterSettings.Seed]
    ) throws -> ClusterSettings {
        let credentials = try ClusterCredentials(
            caFile: config.path(config.tls.ca), certificateFile: config.certificatePath(for: name),
            keyFile: config.keyPath(for: name))
        var settings = ClusterSettings(
            name: name, role: role.rawValue, host: listen.host, port: listen.port,
            credentials: credentials, seeds: seeds)
        settings.advertisedHost = advertise
        // A worker stopped with SIGTERM answers the job in hand (up to its lease) before it leaves.
        if role == .worker { settings.drainTimeout = config.timings.jobLease }
        settings.maxUnauthenticatedConnections = config.transport.maxUnauthenticatedConnections
        settings.handshakeTimeout = config.transport.handshakeTimeout
        settings.maxIncomingCallsPerConnection = config.transport.maxIncomingCallsPerConnection
        settings.membershipProtocol = config.transport.membership
        settings.probeInterval = config.transport.probeInterval
        settings.idleConnectionTimeout = config.transport.idleConnectionTimeout
        settings.probeRings = config.transport.probeRings
        // Each key only the role meant to hold it (a worker certificate cannot pose as the coordinator).
        settings.registrationRoles = [
            Coordinator.receptionKey: [NodeRole.coordinator],
            pageWorkerKey: [NodeRole.worker],
        ]
        settings.heartbeatInterval = config.timings.heartbeatInterval
        settings.failureTimeout = config.timings.failureTimeout
        settings.callTimeout = config.timings.callTimeout
        settings.maximumFrameSize = config.maxFrameBytes
        return settings
    }

    func run(node name: String) async throws {
        let node = try config.node(named: name)
        let seeds = config.nodes.filter { $0.name != name }.map {
            ClusterSettings.Seed(name: $0.name, host: $0.advertise ?? $0.listen.host, port: $0.listen.port)
        }
        try await run(
            settings: settings(
                name: name, role: node.role, listen: node.listen, advertise: node.advertise, seeds: seeds),
            node: node)
    }

    func run(joiner: Joiner) async throws {
        var node = ClusterConfig.Node(name: joiner.name, role: .worker, listen: joiner.listen)
        node.advertise = joiner.advertise
        node.concurrency = joiner.concurrency
        let seed = ClusterSettings.Seed(name: nil, host: joiner.join.host, port: joiner.join.port)
        try await run(
            settings: settings(
                name: joiner.name, role: .worker, listen: joiner.listen, advertise: joiner.advertise, seeds: [seed]),
            node: node)
    }

    private func run(settings: ClusterSettings, node: ClusterConfig.Node) async throws {
        let logger = Logger(label: "lector.\(node.role.rawValue)")
        let system = try await ClusterSystem.start(settings: settings, logger: logger)
        var services: [any Service] = []
        var actors: [any Sendable] = []
        var beforeLeaving: @Sendable () async -> Void = {}
        switch node.role {
        case .coordinator:
            let database = config.path(node.database ?? "data/lector.sqlite")
            var settings = CoordinatorSettings(
                databasePath: database, audioDirectory: config.path(node.audioDir ?? "data/audio"),
                uploadDirectory: URL(fileURLWithPath: database).deletingLastPathComponent()
                    .appendingPathComponent("uploads").path,
                maxUploadBytes: config.maxUploadBytes, maxAttempts: config.timings.maxAttempts,
                jobLease: config.timings.jobLease)
            settings.store = config.store
            settings.retryBackoff = min(config.timings.heartbeatInterval, .milliseconds(500))
            settings.nativeHelper = NativeHelper.command
            settings.maxPages = config.limits.maxPages
            settings.maxPageCharacters = config.limits.maxPageCharacters
            if case .postgres = config.store {
                // One active coordinator at a time, by a lease in the database; the others stand by.
                let election = try CoordinatorElection(
                    system: system, settings: settings, leaseDuration: config.timings.leaseDuration, logger: logger)
                services.append(ElectionService(election: election))
            } else {
                let coordinator = try ClusterSystem.$actorPath.withValue(Coordinator.receptionKey) {
                    try Coordinator(actorSystem: system, settings: settings, logger: logger)
                }
                try await coordinator.whenLocal { try await $0.start() }
                system.receptionist.register(coordinator, key: Coordinator.receptionKey)
                actors.append(coordinator)
            }
        case .worker:
            let concurrency = node.concurrency ?? 2
            let piper = PiperEngine.defaultDirectory().flatMap {
                PiperEngine(directory: $0, espeakData: PiperEngine.espeakData)
            }
            if let piper {
                logger.info("[VOICES] natural voices: \(piper.voices.map(\.name).joined(separator: ", ")) (piper)")
            } else {
                logger.warning(
                    "[VOICES] no natural voice on this machine (run `make deps`, or LECTOR_VOICES is none): espeak-ng only"
                )
            }
            let worker = PageWorker(
                actorSystem: system, concurrency: concurrency, logger: logger,
                ocrHelpers: HelperPool(command: NativeHelper.command, size: concurrency), piper: piper)
            system.receptionist.register(worker, key: pageWorkerKey)
            actors.append(worker)
            beforeLeaving = {
                // Drain: out of the listing first, so the coordinator stops sending; then finish
                // what is in hand; the system then flushes the replies before closing.
                system.receptionist.deregister(worker, key: pageWorkerKey)
                // Jobs already on their way are still taken during one heartbeat; after that the
                // coordinator has seen the deregistration and sends nothing new.
                try? await Task.sleep(for: config.timings.heartbeatInterval)
                await worker.whenLocal { await $0.drain() }
                logger.info("[DRAIN] \(system.node.name) has no job left; leaving the cluster")
            }
        case .gateway:
            let http = node.http ?? .init(host: "127.0.0.1", port: 8000)
            let token = ProcessInfo.processInfo.environment["LECTOR_API_TOKEN"] ?? config.apiToken
            services.append(
                GatewayServer.application(
                    system: system,
                    configuration: GatewayConfiguration(
                        host: http.host, port: http.port, clusterName: config.cluster,
                        maxUploadBytes: config.maxUploadBytes, apiToken: token),
                    logger: logger,
                    onServerRunning: { port in
                        logger.info("HTTP API listening on http://\(http.host):\(port)")
                    }))
        }
        services.insert(ClusterNodeService(system: system, actors: actors, beforeLeaving: beforeLeaving), at: 0)
        let group = ServiceGroup(
            configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        ParentWatch.start(logger: logger)
        try await group.run()
    }
}

/// A node started by `lector dev` exits when its supervisor disappears, even by `kill -9`, so no
/// orphan keeps a port or a database open.
enum ParentWatch {
    static func start(logger: Logger) {
        guard let value = ProcessInfo.processInfo.environment["LECTOR_SUPERVISOR_PID"],
            let pid = Int32(value)
        else { return }
        Task.detached {
            while true {
                try? await Task.sleep(for: .milliseconds(500))
                if getppid() != pid {
                    logger.warning("supervisor \(pid) is gone; stopping")
                    kill(getpid(), SIGTERM)
                    return
                }
            }
        }
    }
}

/// How a node starts its native helpers: this same binary, `lector native-helper`.
enum NativeHelper {
    static var command: [String] {
        [URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path, "native-helper"]
    }
}
