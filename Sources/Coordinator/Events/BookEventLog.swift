import DequeModule
import Foundation

/// The recent events of one book, so a client that reconnects with `Last-Event-ID` gets exactly
/// the ones it missed. Kept in memory: a restarted coordinator starts new logs, and a client whose
/// last id is not in the log gets the current status instead.
struct BookEventLog {
    /// A 1000-page book makes about 4000 events; beyond this many the oldest are dropped.
    static let capacity = 20_000

    private(set) var lastID = 0
    private var events = Deque<BookEvent>()

    mutating func append(name: String, json: Data) -> BookEvent {
        lastID += 1
        let event = BookEvent(id: lastID, name: name, json: json)
        events.append(event)
        if events.count > Self.capacity { events.removeFirst() }
        return event
    }

    var count: Int { events.count }

    /// Keeps `lastID` only.
    mutating func dropEvents() {
        events = []
    }

    /// The events after `id`, or nil when some of them are no longer kept (or `id` was never
    /// handed out by this log).
    func events(after id: Int) -> [BookEvent]? {
        guard id <= lastID else { return nil }
        guard id >= 0 else { return nil }
        guard id < lastID else { return [] }
        guard let first = events.first, first.id <= id + 1 else { return nil }
        return Array(events.dropFirst(id + 1 - first.id))
    }
}
