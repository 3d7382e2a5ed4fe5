import ClusterTransport
import Distributed
import Logging

/// Owns every book's state and hands page jobs to PageWorkers.
public distributed actor Coordinator {
    public typealias ActorSystem = ClusterSystem

    /// The receptionist key gateways and workers look the coordinator up by.
    public static let receptionKey = "coordinator"

    let logger: Logger

    public init(actorSystem: ClusterSystem, logger: Logger) {
        self.actorSystem = actorSystem
        self.logger = logger
    }

    public distributed func hello() -> String {
        "coordinator \(actorSystem.node.name) ready"
    }
}
