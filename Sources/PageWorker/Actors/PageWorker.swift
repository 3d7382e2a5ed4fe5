import ClusterTransport
import Distributed
import Logging

/// Turns a page's text into an MP3 for the coordinator.
public distributed actor PageWorker {
    public typealias ActorSystem = ClusterSystem

    public static let receptionKey = "page-worker"

    public let concurrency: Int
    let logger: Logger

    public init(actorSystem: ClusterSystem, concurrency: Int, logger: Logger) {
        self.actorSystem = actorSystem
        self.concurrency = concurrency
        self.logger = logger
    }

    public distributed func capacity() -> Int { concurrency }
}
