import ClusterTransport
import Foundation

/// Every book's recent events and who follows them, under one epoch.
///
/// The epoch changes at every coordinator start, and clients see event ids as `epoch-n`: an id
/// from before a restart names no event of this log, so the client gets a fresh `status` and
/// then everything new, instead of having events skipped or repeated. Pure state: the actor does
/// the sending and asks this what to send.
struct EventHub<Receiver> {
    /// The events waiting for one subscriber of a book, and whether a delivery is under way.
    struct Outbox {
        let receiver: Receiver
        var pending: [BookEvent] = []
        var sending = false
        /// The book is gone: once `pending` is delivered, the subscriber is dropped.
        var closing = false
    }

    let epoch: Int64
    private var logs: [Int64: BookEventLog] = [:]
    private var subscribers: [Int64: [ClusterActorID: Outbox]] = [:]

    init(epoch: Int64) {
        self.epoch = epoch
    }

    /// Records an event; returns it and the subscribers whose delivery must be started.
    mutating func record(book: Int64, name: String, json: Data) -> (event: BookEvent, start: [ClusterActorID]) {
        let event = logs[book, default: BookEventLog()].append(name: name, json: json)
        var start: [ClusterActorID] = []
        for id in subscribers[book]?.keys.map({ $0 }) ?? [] {
            subscribers[book]?[id]?.pending.append(event)
            if subscribers[book]?[id]?.sending == false {
                subscribers[book]?[id]?.sending = true
                start.append(id)
            }
        }
        return (event, start)
    }

    /// The events after `cursor`, or nil when the client must start from a snapshot: the cursor is
    /// from another epoch, or names events no longer kept.
    func replay(book: Int64, after cursor: EventCursor?) -> [BookEvent]? {
        guard let cursor, cursor.epoch == epoch else { return nil }
        return (logs[book] ?? BookEventLog()).events(after: cursor.id)
    }

    func lastID(book: Int64) -> Int { logs[book]?.lastID ?? 0 }

    mutating func subscribe(book: Int64, id: ClusterActorID, receiver: Receiver) {
        subscribers[book, default: [:]][id] = Outbox(receiver: receiver)
    }

    mutating func unsubscribe(book: Int64, id: ClusterActorID) {
        subscribers[book]?[id] = nil
        if subscribers[book]?.isEmpty == true { subscribers[book] = nil }
    }

    /// What to send a subscriber next; nil ends its delivery loop (and lets a closing one go).
    mutating func nextBatch(book: Int64, for id: ClusterActorID) -> (receiver: Receiver, events: [BookEvent])? {
        guard let outbox = subscribers[book]?[id] else { return nil }
        guard !outbox.pending.isEmpty else {
            subscribers[book]?[id]?.sending = false
            if outbox.closing { unsubscribe(book: book, id: id) }
            return nil
        }
        subscribers[book]?[id]?.pending = []
        return (outbox.receiver, outbox.pending)
    }

    /// The book is gone: subscribers are let go after their last events, and its log with them.
    mutating func close(book: Int64) {
        for id in subscribers[book]?.keys.map({ $0 }) ?? [] { subscribers[book]?[id]?.closing = true }
        logs[book] = nil
    }

    /// The book is settled: its events are dropped (a late client gets the final status), only the
    /// count is kept so ids keep growing if the book runs again after a retry.
    mutating func release(book: Int64) {
        logs[book]?.dropEvents()
    }

    var subscriberCount: Int { subscribers.values.reduce(0) { $0 + $1.count } }
    var keptEvents: Int { logs.values.reduce(0) { $0 + $1.count } }
}

/// Where a client is in a book's events: `epoch-n` in the SSE `id:` field.
public struct EventCursor: Codable, Sendable, Equatable, CustomStringConvertible {
    public var epoch: Int64
    public var id: Int

    public init(epoch: Int64, id: Int) {
        self.epoch = epoch
        self.id = id
    }

    /// `epoch-n`; anything else (including a bare number from an older server) is nil.
    public init?(_ text: String) {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.count <= 19 && $0.allSatisfy(\.isASCII) }),
            let epoch = Int64(parts[0]), let id = Int(parts[1]), epoch >= 0, id >= 0
        else { return nil }
        self.init(epoch: epoch, id: id)
    }

    public var description: String { "\(epoch)-\(id)" }
}
