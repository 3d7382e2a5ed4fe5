import Foundation
import Logging
import ServiceLifecycle

/// Runs every node of a dev cluster as a child process of this one, restarts any that dies, and
/// stops them all on SIGINT/SIGTERM.
actor DevSupervisor: Service {
    private let configPath: String
    private let config: ClusterConfig
    private let logger: Logger
    private var children: [String: Process] = [:]
    private var stopping = false

    init(configPath: String, config: ClusterConfig, logger: Logger) {
        self.configPath = configPath
        self.config = config
        self.logger = logger
    }

    func run() async throws {
        // The coordinator first, so the others find it on their first dial.
        let ordered = config.nodes(.coordinator) + config.nodes(.worker) + config.nodes(.gateway)
        for node in ordered { try start(node) }
        if let gateway = config.nodes(.gateway).first, let http = gateway.http {
            logger.info(
                "Lector dev cluster is starting: http://\(http.host):\(http.port) (1 coordinator, \(config.nodes(.worker).count) workers; data in \(config.baseDirectory.path))"
            )
        }
        try? await gracefulShutdown()
        await stopAll()
    }

    private func start(_ node: ClusterConfig.Node) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = [node.role.rawValue, "--config", configPath, "--node", node.name]
        var environment = ProcessInfo.processInfo.environment
        environment["LECTOR_SUPERVISOR_PID"] = String(getpid())
        environment[OpenMPSetting.variable] = environment[OpenMPSetting.variable] ?? "1"
        process.environment = environment
        process.terminationHandler = { [weak self] finished in
            let status = finished.terminationStatus
            let reason =
                finished.terminationReason == .uncaughtSignal ? "signal \(status)" : "status \(status)"
            Task { await self?.exited(node, reason: reason) }
        }
        try process.run()
        children[node.name] = process
        logger.info(
            "started \(node.role.rawValue) \(node.name) (pid \(process.processIdentifier)) on \(node.listen)"
        )
    }

    private func exited(_ node: ClusterConfig.Node, reason: String) async {
        children[node.name] = nil
        guard !stopping else { return }
        logger.warning("\(node.role.rawValue) \(node.name) exited (\(reason)); restarting it in 1 s")
        try? await Task.sleep(for: .seconds(1))
        guard !stopping else { return }
        do {
            try start(node)
        } catch {
            logger.error("cannot restart \(node.name): \(error)")
        }
    }

    private func stopAll() async {
        stopping = true
        logger.info("stopping \(children.count) nodes")
        for process in children.values where process.isRunning { process.terminate() }
        let deadline = ContinuousClock.now + .seconds(15)
        while children.values.contains(where: \.isRunning), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        for process in children.values where process.isRunning {
            logger.warning("node pid \(process.processIdentifier) did not stop in time; killing it")
            kill(process.processIdentifier, SIGKILL)
        }
    }
}
