import ClusterTransport
import Distributed
import Foundation

/// The first answer to a subscription: the epoch the ids belong to, and what comes first.
public struct EventSubscription: Codable, Sendable, Equatable {
    public var epoch: Int64
    public var events: [BookEvent]
}

extension Coordinator {
    /// Starts sending `receiver` the book's events as they happen, and returns what comes first:
    /// the events after `lastEventID` (`epoch-n`) when this log still has them all, otherwise a
    /// `status` snapshot (an id from before a restart is from another epoch). A book that is
    /// already settled also gets `book_completed`, after which nothing more will come.
    public distributed func subscribeEvents(book: Int64, after lastEventID: String?, receiver: ClusterActorID)
        async throws
        -> EventSubscription
    {
        let status = try await answering { try await store.status(book: book) }
        let cursor = lastEventID.flatMap { $0.utf8.count <= 64 ? EventCursor($0) : nil }
        var first: [BookEvent]
        if let missed = events.replay(book: book, after: cursor) {
            first = missed
        } else {
            first = [BookEvent(id: events.lastID(book: book), name: "status", json: EventJSON.encode(status))]
        }
        let settled = status.processingStatus == .completed || status.processingStatus == .failed
        if settled && first.last?.name != "book_completed" {
            first.append(
                BookEvent(id: events.lastID(book: book), name: "book_completed", json: EventJSON.encode(status)))
        }
        if !settled, let handle = try? $BookEventReceiving.resolve(id: receiver, using: actorSystem) {
            events.subscribe(book: book, id: receiver, receiver: handle)
        }
        return EventSubscription(epoch: events.epoch, events: first)
    }

    public distributed func unsubscribeEvents(book: Int64, receiver: ClusterActorID) {
        events.unsubscribe(book: book, id: receiver)
    }

    /// Records an event in the book's log and queues it for the book's subscribers.
    func emit(_ book: Int64, _ name: String, _ payload: some Encodable) {
        let (_, start) = events.record(book: book, name: name, json: EventJSON.encode(payload))
        for id in start {
            Task { await self.deliver(book: book, to: id) }
        }
    }

    /// Sends a subscriber what has piled up, one call at a time, until nothing is left. One that
    /// cannot be reached is dropped (the gateway subscribes again when its client reconnects).
    private func deliver(book: Int64, to id: ClusterActorID) async {
        while let (receiver, batch) = events.nextBatch(book: book, for: id) {
            do {
                try await receiver.receive(BookEventBatch.encode(batch))
            } catch {
                events.unsubscribe(book: book, id: id)
                return
            }
        }
    }

    /// `progress` with the book's status, and `book_completed` when nothing is left to run; a
    /// settled book's log is released then (memory: a library of finished books keeps none).
    func emitProgress(_ book: Int64, status known: BookStatus? = nil) async {
        var status = known
        if status == nil { status = try? await store.status(book: book) }
        guard let status else { return }
        emit(book, "progress", status)
        if status.processingStatus == .completed || status.processingStatus == .failed {
            emit(book, "book_completed", status)
            events.release(book: book)
        }
    }

    /// The book is gone: subscribers hear it and are let go, and its log with them.
    func closeEvents(book: Int64) {
        emit(book, "book_deleted", BookDeleted(bookId: book))
        events.close(book: book)
    }
}
