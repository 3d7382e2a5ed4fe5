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
        /// The voices it says it has: pages go only where their voice is (`VoiceNeed`).
        var voices: [VoiceInfo] = []
        var inFlight: Set<PageKey> = []
        var jobsDone = 0
        /// A worker that just lost a page (its connection dropped, it could not be reached) gets
        /// no job before this: a dead worker stays listed until the cluster notices, and jobs sent
        /// to it meanwhile would each spend a page's loss budget in milliseconds.
        var pausedUntil: ContinuousClock.Instant?

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
    /// Waiting pages, one queue per need: a worker takes from the queues it can serve.
    private var queues: [VoiceNeed: JobQueue] = [:]
    /// Each page's need, kept from its first enqueue until it is done, so a retry goes where the
    /// first attempt could.
    private(set) var needs: [PageKey: VoiceNeed] = [:]
    private(set) var slots: [ClusterActorID: Slot] = [:]
    private(set) var leases: [PageKey: Lease] = [:]

    init(policy: Policy) {
        self.policy = policy
    }

    // MARK: Queue

    /// Queues a page; `need` is remembered for its later attempts (none given: its earlier one).
    mutating func enqueue(_ key: PageKey, need: VoiceNeed? = nil) {
        let need = need ?? needs[key] ?? .any
        guard !isWaiting(key) else { return }
        needs[key] = need
        queues[need, default: JobQueue()].push(key)
    }

    func isWaiting(_ key: PageKey) -> Bool {
        leases[key] != nil || needs[key].map { queues[$0]?.contains(key) ?? false } ?? false
    }

    /// The page is done (completed or failed for good): its need is forgotten.
    mutating func finish(_ key: PageKey) {
        guard !isWaiting(key) else { return }
        needs[key] = nil
    }

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

    /// Jobs for every free slot, most free worker first, each to a worker that has its voice. The
    /// caller starts them (one transaction) and calls `lease` for each, or `putBack` when that
    /// failed.
    ///
    /// A worker takes first the pages only workers like it can voice (a natural-voice worker takes
    /// natural-voice pages before espeak-ng ones), so the scarce voice is not spent on pages any
    /// worker could do. A need no worker meets is served by all.
    mutating func pick(now: ContinuousClock.Instant = .now) -> [(key: PageKey, worker: ClusterActorID, node: String)] {
        var free = slots.filter { $0.value.pausedUntil.map { $0 <= now } ?? true }.mapValues(\.freeSlots)
            .filter { $0.value > 0 }
        let unmet = Set(queues.keys.filter { need in !slots.values.contains { need.isMet(by: $0.voices) } })
        var picks: [(key: PageKey, worker: ClusterActorID, node: String)] = []
        while let (id, count) = free.max(by: { ($0.value, $1.key.description) < ($1.value, $0.key.description) }) {
            let voices = slots[id]!.voices
            let servable = queues.filter { !$0.value.isEmpty && (unmet.contains($0.key) || $0.key.isMet(by: voices)) }
            // Its own kind of page first, then the rest; within each, the longest queue.
            let special = servable.filter { $0.key != .any && !unmet.contains($0.key) }
            guard
                let need = (special.isEmpty ? servable : special).max(by: { $0.value.count < $1.value.count })?.key,
                let key = queues[need]?.pop()
            else {
                free[id] = nil  // nothing it can voice is waiting
                continue
            }
            picks.append((key, id, slots[id]!.node))
            free[id] = count > 1 ? count - 1 : nil
        }
        return picks
    }

    /// Sends `worker` nothing until `until` (see `Slot.pausedUntil`).
    mutating func pause(_ worker: ClusterActorID, until: ContinuousClock.Instant) {
        slots[worker]?.pausedUntil = until
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
        for need in queues.keys { queues[need]?.remove(book: book) }
        needs = needs.filter { $0.key.book != book }
        for (key, lease) in leases where key.book == book {
            leases[key] = nil
            slots[lease.worker]?.inFlight.remove(key)
        }
    }

    // MARK: Reading

    func slot(_ id: ClusterActorID) -> Slot? { slots[id] }
    var queued: Int { queues.values.reduce(0) { $0 + $1.count } }
    var inFlight: Int { leases.count }
    var workerCount: Int { slots.count }
}
