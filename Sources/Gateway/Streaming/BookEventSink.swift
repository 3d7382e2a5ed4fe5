import ClusterTransport
import Coordinator
import Distributed

/// Receives one book's events from the coordinator for one `GET …/events/` response, which reads
/// them from `continuation`'s stream (where nil is the response's own heartbeat). Lives as long as that response.
distributed actor BookEventSink: BookEventReceiving {
    typealias ActorSystem = ClusterSystem

    let continuation: AsyncStream<BookEvent?>.Continuation

    init(actorSystem: ClusterSystem, continuation: AsyncStream<BookEvent?>.Continuation) {
        self.actorSystem = actorSystem
        self.continuation = continuation
    }

    distributed func receive(_ event: BookEvent) {
        continuation.yield(event)
    }
}
