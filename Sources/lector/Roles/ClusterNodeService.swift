import ClusterTransport
import ServiceLifecycle

/// Keeps a node's actor system (and the role's actors) alive until shutdown is asked for, then
/// leaves the cluster politely.
struct ClusterNodeService: Service {
    let system: ClusterSystem
    /// Held only so the role's actors live as long as the service.
    let actors: [any Sendable]
    /// Runs first on shutdown, while the node is still connected (a worker finishing its job).
    var beforeLeaving: @Sendable () async -> Void = {}

    func run() async throws {
        try? await gracefulShutdown()
        await beforeLeaving()
        await system.shutdown()
        _ = actors
    }
}
