import ClusterTransport
import Coordinator
import Distributed
import Foundation

/// Receives one book's events from the coordinator for one `GET …/events/` response, which reads
/// them from `continuation`'s stream (where nil is the response's own heartbeat). Lives as long as that response.
distributed actor BookEventSink: BookEventReceiving {
    typealias ActorSystem = ClusterSystem

    let continuation: AsyncStream<BookEvent?>.Continuation

    init(actorSystem: ClusterSystem, continuation: AsyncStream<BookEvent?>.Continuation) {
        self.actorSystem = actorSystem
        self.continuation = continuation
    }

    distributed func receive(_ batch: Data) {
        for event in BookEventBatch.decode(batch) ?? [] { continuation.yield(event) }
    }
}

extension BookEventSink: CallerRoles {
    static func allowedRoles(forMethod method: String) -> Set<String>? { [NodeRole.coordinator] }
}
