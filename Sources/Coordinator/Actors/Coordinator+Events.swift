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
        eventSubscribers[book]?.removeValue(forKey: receiver)?.finish()
        if eventSubscribers[book]?.isEmpty == true { eventSubscribers[book] = nil }
    }

    /// Each subscriber gets its events from one task, in order, one call at a time; one that
    /// cannot be reached is dropped (the gateway subscribes again when its client reconnects).
    private func addSubscriber(_ id: ClusterActorID, book: Int64) {
        guard let receiver = try? $BookEventReceiving.resolve(id: id, using: actorSystem) else { return }
        let (events, continuation) = AsyncStream.makeStream(of: BookEvent.self)
        eventSubscribers[book, default: [:]][id]?.finish()
        eventSubscribers[book, default: [:]][id] = continuation
        Task {
            for await event in events {
                do {
                    try await receiver.receive(event)
                } catch {
                    self.unsubscribeEvents(book: book, receiver: id)
                    return
                }
            }
        }
    }

    /// Records an event in the book's log and sends it to the book's subscribers.
    func emit(_ book: Int64, _ name: String, _ payload: some Encodable) {
        let event = eventLogs[book, default: BookEventLog()].append(name: name, json: EventJSON.encode(payload))
        for continuation in eventSubscribers[book, default: [:]].values { continuation.yield(event) }
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
        emit(book, "book_deleted", BookDeleted(bookId: book))
        if let subscribers = eventSubscribers.removeValue(forKey: book) {
            for continuation in subscribers.values { continuation.finish() }
        }
        eventLogs[book] = nil
    }
}
