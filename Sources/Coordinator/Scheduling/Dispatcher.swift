import ClusterTransport
import Foundation

/// The coordinator's scheduling state: which pages wait, which workers take how many, which
/// attempt of a page is current, and what an attempt's end means for the page.
///
/// Pure state, no I/O: the `Coordinator` actor does the calls and the writes and tells this what
/// happened, so every rule here is tested without sockets. Generic over the worker reference so
/// tests can use plain values.
struct Dispatcher<Worker> {
    /// A page worker as the dispatcher sees it: how much it takes and what it holds.
    struct Slot {
        let worker: Worker
        let node: String
        var capacity: Int
        /// What the worker says it can read (Tesseract packs); shown, not used to route.
        var ocrLanguages: [String] = []
        /// The voices it says it has (`/api/voices/`).
        var voices: [VoiceInfo] = []
        var inFlight: Set<PageKey> = []
        var jobsDone = 0

        var freeSlots: Int { capacity - inFlight.count }
    }

    /// The current attempt of a page that is out with a worker. A result is accepted only if it
    /// names this lease.
    struct Lease {
        var worker: ClusterActorID
        var attempt: Int
        var token: UUID
        var started = ContinuousClock.now
    }

    /// How an attempt ended, as far as the page's budget is concerned.
    enum Ending: Equatable {
        /// The worker threw, or the lease ran out: counts against `maxAttempts`, retried with backoff.
        case failed
        /// The worker died, its connection dropped, or the job could not be sent: retried, but it
        /// counts against the separate, small `maxLosses` budget, so a page that kills every
        /// worker it reaches ends.
        case lost
        /// The worker turned the job down (draining, busy) before starting it: no budget used.
        case refused
    }

    /// What to do with the page.
    enum Verdict: Equatable {
        case retry(after: Duration)
        case requeue(after: Duration)
        case fail(String)
    }

    struct Policy {
        var maxAttempts: Int
        var maxLosses: Int
        var backoff: Duration

        func verdict(for ending: Ending, attempt: Int, losses: Int, message: String) -> Verdict {
            switch ending {
            case .refused:
                return .requeue(after: backoff)
            case .lost:
                if losses >= maxLosses { return .fail("worker lost while voicing this page (\(losses) times)") }
                return .requeue(after: .zero)
            case .failed:
                if attempt >= maxAttempts { return .fail(message) }
                return .retry(after: backoff * (1 << min(max(attempt - 1, 0), 6)))
            }
        }
    }

    let policy: Policy
    private(set) var queue = JobQueue()
    private(set) var slots: [ClusterActorID: Slot] = [:]
    private(set) var leases: [PageKey: Lease] = [:]

    init(policy: Policy) {
        self.policy = policy
    }

    // MARK: Queue

    mutating func enqueue(_ key: PageKey) {
        guard !queue.contains(key), leases[key] == nil else { return }
        queue.push(key)
    }

    func isWaiting(_ key: PageKey) -> Bool { queue.contains(key) || leases[key] != nil }

    // MARK: Workers

    mutating func join(
        _ id: ClusterActorID, worker: Worker, node: String, capacity: Int, ocrLanguages: [String] = [],
        voices: [VoiceInfo] = []
    ) {
        slots[id] = Slot(
            worker: worker, node: node, capacity: max(1, capacity), ocrLanguages: ocrLanguages, voices: voices)
    }

    /// Forgets a worker; its jobs come back through their failing calls.
    @discardableResult
    mutating func leave(_ id: ClusterActorID) -> Int {
        slots.removeValue(forKey: id)?.inFlight.count ?? 0
    }

    // MARK: Handing out

    /// Jobs for every free slot, most free worker first. The caller starts them (one transaction)
    /// and calls `lease` for each, or `putBack` when that failed.
    mutating func pick() -> [(key: PageKey, worker: ClusterActorID, node: String)] {
        var free = slots.mapValues(\.freeSlots)
        var picks: [(key: PageKey, worker: ClusterActorID, node: String)] = []
        while !queue.isEmpty, let (id, count) = free.max(by: { $0.value < $1.value }), count > 0,
            let key = queue.pop()
        {
            picks.append((key, id, slots[id]!.node))
            free[id] = count - 1
        }
        return picks
    }

    mutating func putBack(_ keys: [PageKey]) {
        for key in keys { enqueue(key) }
    }

    /// Records the attempt that is now out with `worker`.
    mutating func lease(_ key: PageKey, to worker: ClusterActorID, attempt: Int) -> Lease? {
        guard slots[worker] != nil else { return nil }
        let lease = Lease(worker: worker, attempt: attempt, token: UUID())
        leases[key] = lease
        slots[worker]?.inFlight.insert(key)
        return lease
    }

    /// The lease an answer names, if it is still the page's current one; it is ended either way.
    /// Fencing: a late answer for an older attempt gets nil.
    mutating func settle(_ key: PageKey, token: UUID) -> Lease? {
        guard let lease = leases[key], lease.token == token else { return nil }
        leases[key] = nil
        slots[lease.worker]?.inFlight.remove(key)
        return lease
    }

    mutating func recordDone(by worker: ClusterActorID) {
        slots[worker]?.jobsDone += 1
    }

    /// A deleted book: its queued jobs and leases go, so answers on their way find no lease.
    mutating func forget(book: Int64) {
        queue.remove(book: book)
        for (key, lease) in leases where key.book == book {
            leases[key] = nil
            slots[lease.worker]?.inFlight.remove(key)
        }
    }

    // MARK: Reading

    func slot(_ id: ClusterActorID) -> Slot? { slots[id] }
    var queued: Int { queue.count }
    var inFlight: Int { leases.count }
    var workerCount: Int { slots.count }
}
