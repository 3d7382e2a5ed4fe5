import Coordinator
import ServiceLifecycle

/// Runs a coordinator node's election until shutdown; the lease is then given up, so a standby
/// takes over at once instead of after the lease runs out.
struct ElectionService: Service {
    let election: CoordinatorElection

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await election.run()
        }
    }
}
