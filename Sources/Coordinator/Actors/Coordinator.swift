import ClusterTransport
import Distributed
import Foundation
import Logging

/// Owns every book's state and hands page jobs to PageWorkers.
///
/// Gateways call it for everything a client asks; workers are found through the receptionist and
/// given jobs up to their capacity, fairly across books. State lives in SQLite, so a restarted
/// coordinator picks up where the last one stopped.
public distributed actor Coordinator {
    public typealias ActorSystem = ClusterSystem

    /// The receptionist key gateways look the coordinator up by.
    public static let receptionKey = "coordinator"

    let settings: CoordinatorSettings
    let logger: Logger
    let store: BookStore
    let audioStore: AudioStore
    var uploads: [String: UploadSpool] = [:]
    var queue = JobQueue()
    var workers: [ClusterActorID: WorkerSlot] = [:]
    var leases: [PageKey: Lease] = [:]
    /// Answers received and not yet written (see `flushAccepted`).
    var accepted: [AcceptedPage] = []
    var flushScheduled = false
    /// Open PDFs of books with pages waiting for OCR.
    var sources: [Int64: PDFTextDocument] = [:]
    /// Whole-book MP3s being joined, so two requests build once.
    var bookAudioBuilds: [Int64: Task<Void, any Error>] = [:]
    /// Recent events per book, for clients that reconnect.
    var eventLogs: [Int64: BookEventLog] = [:]
    /// Who follows which book's events.
    var eventSubscribers: [Int64: [ClusterActorID: EventOutbox]] = [:]
    var watching: Task<Void, Never>?

    public init(actorSystem: ClusterSystem, settings: CoordinatorSettings, logger: Logger) throws {
        self.actorSystem = actorSystem
        self.settings = settings
        self.logger = logger
        self.store = try BookStore(path: settings.databasePath)
        self.audioStore = AudioStore(directory: settings.audioDirectory)
        actorSystem.registerErrorType(PageJobRefused.self)
        // Spooled uploads of a previous run can never be finished: nobody holds their ids.
        try? FileManager.default.removeItem(atPath: settings.uploadDirectory)
    }

    /// Requeues unfinished jobs and starts following the workers; call once after init.
    public func start() throws {
        let interrupted = audioStore.removeInterruptedWrites()
        if interrupted > 0 {
            logger.info("[RECOVERY] removed \(interrupted) half-written audio files")
        }
        let pending = try store.recoverPendingJobs()
        for key in pending { queue.push(key) }
        if !pending.isEmpty {
            logger.info("[RECOVERY] \(pending.count) unfinished page jobs queued again")
        }
        let listing = actorSystem.receptionist.listing(pageWorkerKey)
        watching = Task { [weak self] in
            for await ids in listing {
                guard let self else { return }
                await self.whenLocal { await $0.workersChanged(ids) }
            }
        }
    }

    public func stop() {
        watching?.cancel()
    }
}
