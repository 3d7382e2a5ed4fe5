import ClusterTransport
import Distributed
import Foundation

extension Coordinator {
    /// Starts sending `receiver` the book's events as they happen, and returns what comes first:
    /// the events after `lastEventID` when the log still has them all, otherwise a `status`
    /// snapshot. A book that is already settled also gets `book_completed`, after which nothing
    /// more will come.
    public distributed func subscribeEvents(book: Int64, after lastEventID: Int?, receiver: ClusterActorID) throws
        -> [BookEvent]
    {
        let status = try store.status(book: book)
        let log = eventLogs[book] ?? BookEventLog()
        var first: [BookEvent]
        if let lastEventID, let missed = log.events(after: lastEventID) {
            first = missed
        } else {
            first = [BookEvent(id: log.lastID, name: "status", json: EventJSON.encode(status))]
        }
        let settled = status.processingStatus == .completed || status.processingStatus == .failed
        if settled && first.last?.name != "book_completed" {
            first.append(BookEvent(id: log.lastID, name: "book_completed", json: EventJSON.encode(status)))
        }
        if !settled { addSubscriber(receiver, book: book) }
        return first
    }

    public distributed func unsubscribeEvents(book: Int64, receiver: ClusterActorID) {
        eventSubscribers[book]?[receiver] = nil
        if eventSubscribers[book]?.isEmpty == true { eventSubscribers[book] = nil }
    }

    private func addSubscriber(_ id: ClusterActorID, book: Int64) {
        guard let receiver = try? $BookEventReceiving.resolve(id: id, using: actorSystem) else { return }
        eventSubscribers[book, default: [:]][id] = EventOutbox(receiver: receiver)
    }

    /// Records an event in the book's log and queues it for the book's subscribers.
    func emit(_ book: Int64, _ name: String, _ payload: some Encodable) {
        let event = eventLogs[book, default: BookEventLog()].append(name: name, json: EventJSON.encode(payload))
        guard let subscribers = eventSubscribers[book] else { return }
        for (id, outbox) in subscribers {
            eventSubscribers[book]?[id]?.pending.append(event)
            if !outbox.sending {
                eventSubscribers[book]?[id]?.sending = true
                Task { await self.deliver(book: book, to: id) }
            }
        }
    }

    /// Sends a subscriber what has piled up, one call at a time, until nothing is left. One that
    /// cannot be reached is dropped (the gateway subscribes again when its client reconnects).
    private func deliver(book: Int64, to id: ClusterActorID) async {
        while let outbox = eventSubscribers[book]?[id] {
            guard !outbox.pending.isEmpty else {
                eventSubscribers[book]?[id]?.sending = false
                if outbox.closing { unsubscribeEvents(book: book, receiver: id) }
                return
            }
            eventSubscribers[book]?[id]?.pending = []
            do {
                try await outbox.receiver.receive(BookEventBatch.encode(outbox.pending))
            } catch {
                unsubscribeEvents(book: book, receiver: id)
                return
            }
        }
    }

    /// `progress` with the book's status, and `book_completed` when nothing is left to run.
    func emitProgress(_ book: Int64, status known: BookStatus? = nil) {
        guard let status = known ?? (try? store.status(book: book)) else { return }
        emit(book, "progress", status)
        if status.processingStatus == .completed || status.processingStatus == .failed {
            emit(book, "book_completed", status)
        }
    }

    /// The book is gone: subscribers hear it and are let go, and its log with them.
    func closeEvents(book: Int64) {
        for id in eventSubscribers[book]?.keys.map({ $0 }) ?? [] { eventSubscribers[book]?[id]?.closing = true }
        emit(book, "book_deleted", BookDeleted(bookId: book))
        eventLogs[book] = nil
    }
}
