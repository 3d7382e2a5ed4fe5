import ClusterTransport
import Distributed
import Foundation
import Logging

/// Owns every book's state and hands page jobs to PageWorkers.
///
/// Gateways call it for everything a client asks; workers are found through the receptionist and
/// given jobs up to their capacity, fairly across books. State lives in a `BookStore` (SQLite, or
/// PostgreSQL for several coordinators), so a restarted coordinator picks up where the last one
/// stopped.
///
/// It composes parts that each own their state: the `Dispatcher` (queue, worker slots, leases,
/// what an attempt's end means), the `EventHub` (event logs, subscribers, the epoch) and the book
/// side (`BookLibrary`: open uploads, kept PDFs, joins under way; the store and the audio files).
public distributed actor Coordinator {
    public typealias ActorSystem = ClusterSystem

    /// The receptionist key gateways look the coordinator up by.
    public static let receptionKey = "coordinator"

    let settings: CoordinatorSettings
    let logger: Logger
    let store: any BookStore
    let audioStore: any AudioStore
    /// Helper processes that read uploads' PDFs and render pages for OCR (nil: this process).
    let nativeHelpers: HelperPool?
    var dispatcher: Dispatcher<any PageSynthesizing>
    var events: EventHub<any BookEventReceiving>
    /// Answers received and not yet written (see `flushAccepted`).
    var accepted: [AcceptedPage] = []
    var flushScheduled = false
    /// A pump that failed to start its batch tries again after this much (doubling, bounded).
    var pumpRetry: Duration?
    /// Pages whose start failed without a clear answer (see `BookStore.startAttempts`); emptied
    /// as they are started again.
    var uncertainStarts: Set<PageKey> = []
    /// A pump is running; another asked meanwhile makes it go round once more.
    var pumping = false
    var pumpAgain = false
    /// A listed worker could not be asked its capacity and voices: one retry of them all is due.
    var workerRetryScheduled = false
    var library: BookLibrary
    /// Pages' audio while it is being made.
    var live = LiveAudio()
    var watching: Task<Void, Never>?
    /// Stopped (shut down, or deposed by a takeover): nothing more is handed out.
    var stopped = false

    public init(actorSystem: ClusterSystem, settings: CoordinatorSettings, logger: Logger) throws {
        self.actorSystem = actorSystem
        self.settings = settings
        self.logger = logger
        switch settings.store {
        case .sqlite:
            self.store = try SQLiteBookStore(path: settings.databasePath)
            self.audioStore = FileAudioStore(directory: settings.audioDirectory)
        case .postgres(let url):
            let postgres = try PostgresBookStore(url: url, logger: logger)
            postgres.fenceWrites(settings.lease)
            self.store = postgres
            self.audioStore = PostgresAudioStore(books: postgres, localDirectory: settings.audioDirectory)
        }
        // Two: an upload being read does not wait behind a page being drawn, and the other way round.
        self.nativeHelpers = settings.nativeHelper.map { HelperPool(command: $0, size: 2) }
        self.dispatcher = Dispatcher(
            policy: .init(
                maxAttempts: settings.maxAttempts, maxLosses: settings.maxLosses, backoff: settings.retryBackoff))
        // The real epoch is read from the store in `start`, before anyone can subscribe.
        self.events = EventHub(epoch: 0)
        self.library = BookLibrary(uploadDirectory: URL(fileURLWithPath: settings.uploadDirectory, isDirectory: true))
        actorSystem.registerErrorType(PageJobRefused.self)
        actorSystem.registerErrorType(PageTransferError.self)
        // Spooled uploads of a previous run can never be finished: nobody holds their ids.
        try? FileManager.default.removeItem(atPath: settings.uploadDirectory)
    }

    /// Prepares the store, requeues unfinished jobs and starts following the workers; call once
    /// after init.
    public func start() async throws {
        try await store.prepare()
        events = EventHub(epoch: try await store.nextEpoch())
        let interrupted = audioStore.removeInterruptedWrites()
        if interrupted > 0 {
            logger.info("[RECOVERY] removed \(interrupted) half-written audio files and folders")
        }
        let orphans = try await audioStore.removeOrphans()
        if orphans > 0 { logger.info("[RECOVERY] removed \(orphans) stored audio no page refers to") }
        let recovery = try await store.recoverPendingJobs(maxLosses: settings.maxLosses)
        await enqueue(recovery.pending)
        if !recovery.pending.isEmpty {
            logger.info("[RECOVERY] \(recovery.pending.count) unfinished page jobs queued again")
        }
        for key in recovery.failed {
            logger.error("[RECOVERY] \(key) failed: the coordinator stopped while rendering it too many times")
        }
        logger.info("[RECOVERY] event epoch \(events.epoch)")
        let listing = actorSystem.receptionist.listing(pageWorkerKey)
        watching = Task { [weak self] in
            for await ids in listing {
                guard let self else { return }
                await self.whenLocal { await $0.workersChanged(ids) }
            }
        }
    }

    /// Hands out nothing more, lets the jobs out settle (bounded by `drain`), then closes the
    /// store. A deposed coordinator's settling writes are refused by the database, and say so.
    public func stop(drain: Duration = .zero) async {
        stopped = true
        watching?.cancel()
        let deadline = ContinuousClock.now + drain
        while dispatcher.inFlight > 0 || !accepted.isEmpty || flushScheduled, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(100))
        }
        await store.close()
    }

    /// The epoch of the lease this coordinator acts under (0 without one); each job carries it,
    /// and a worker refuses jobs older than the newest it has seen.
    var leaseEpoch: Int64 { settings.lease?.epoch ?? 0 }

    /// Who this coordinator is and the lease epoch it acts under (nil: no lease, one coordinator).
    public distributed func leadership() -> Leadership {
        Leadership(node: actorSystem.node.name, epoch: settings.lease?.epoch)
    }
}

/// A worker's answer for a page, accepted under its lease and waiting to be written: its audio is
/// already in a temporary file, read from the worker in pieces.
struct AcceptedPage {
    var key: PageKey
    var lease: Dispatcher<any PageSynthesizing>.Lease
    var result: PageResult
    var audio: PendingAudio?
}
