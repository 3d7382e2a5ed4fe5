import ClusterTransport
import Distributed
import Foundation

/// Implemented by whoever follows a book's changes (the gateway, for `GET …/events/`). The
/// coordinator sends the events in order as they happen, those that piled up during the previous
/// call together, as a `BookEventBatch`.
@Resolvable
public protocol BookEventReceiving: DistributedActor where ActorSystem == ClusterSystem {
    distributed func receive(_ batch: Data) async
}

/// One change of a book, ready to be written as a server-sent event.
public struct BookEvent: Codable, Sendable, Equatable {
    /// Counts up from 1 per book, so `Last-Event-ID` says exactly what a client has seen. 0 marks a
    /// snapshot that is not in the book's log (the `status` sent first).
    public var id: Int
    public var name: String
    /// The event's `data:` JSON, keys in snake_case.
    public var json: Data

    public init(id: Int, name: String, json: Data) {
        self.id = id
        self.name = name
        self.json = json
    }
}
