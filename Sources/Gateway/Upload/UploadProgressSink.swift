import ClusterTransport
import Coordinator
import Distributed

/// Receives one upload's progress from the coordinator and hands it to the HTTP response that
/// streams it. Lives on the gateway's node for the length of the upload.
distributed actor UploadProgressSink: UploadProgressReceiving {
    typealias ActorSystem = ClusterSystem

    let continuation: AsyncStream<TextProgress>.Continuation

    init(actorSystem: ClusterSystem, continuation: AsyncStream<TextProgress>.Continuation) {
        self.actorSystem = actorSystem
        self.continuation = continuation
    }

    distributed func textExtracted(_ progress: TextProgress) {
        continuation.yield(progress)
    }
}

extension UploadProgressSink: CallerRoles {
    static func allowedRoles(forMethod method: String) -> Set<String>? { [NodeRole.coordinator] }
}
