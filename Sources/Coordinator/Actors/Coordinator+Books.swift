import ClusterTransport
import Distributed
import Foundation

extension Coordinator {
    public distributed func listBooks() async throws -> [BookSummary] {
        try await answering { try await store.summaries() }
    }

    public distributed func detail(book: Int64) async throws -> BookDetail {
        try await answering { try await store.detail(book: book) }
    }

    public distributed func status(book: Int64) async throws -> BookStatus {
        try await answering { try await store.status(book: book) }
    }

    /// Pages answered at most this many at a time (a 5000-page book's texts are megabytes).
    public static let maxPagesPerRequest = 200

    public distributed func pages(book: Int64, offset: Int, limit: Int?) async throws -> BookPages {
        guard offset >= 0, offset <= Int(Int32.max), (limit ?? 1) > 0 else {
            throw LectorError.badRequest("offset must be ≥ 0 and limit ≥ 1.")
        }
        return try await answering {
            try await store.pages(
                book: book, offset: offset, limit: min(limit ?? Self.maxPagesPerRequest, Self.maxPagesPerRequest))
        }
    }

    public distributed func retry(book: Int64) async throws -> RetryOutcome {
        let keys = try await answering { try await store.requeueFailed(book: book) }
        await enqueue(keys)
        if !keys.isEmpty {
            await emitProgress(book)
            logger.info("[RETRY] Book \(book) - \(keys.count) failed pages queued again")
        }
        await pump()
        return RetryOutcome(bookId: book, requeuedPages: keys.count)
    }

    /// Where the book's listener was (page 1 at 0 s when nothing was saved).
    public distributed func position(book: Int64) async throws -> ListeningPosition {
        try await answering { try await store.position(book: book) }
    }

    public distributed func savePosition(book: Int64, page: Int, seconds: Double) async throws -> ListeningPosition {
        try await answering { try await store.savePosition(book: book, page: page, seconds: seconds) }
    }

    public distributed func delete(book: Int64) async throws {
        try await answering { try await store.deleteBook(book) }
        // Answers still on their way for this book find no lease and are dropped before any file
        // is written; answers accepted and not yet written lose their files now.
        dispatcher.forget(book: book)
        live.forget(book: book)
        for page in accepted where page.key.book == book {
            if let audio = page.audio { audioStore.discard(audio) }
        }
        accepted.removeAll { $0.key.book == book }
        library.closeSource(book: book)
        closeEvents(book: book)
        await audioStore.removeBook(book)
        logger.info("[DELETE] Book \(book) and its audio removed")
    }

    public distributed func audio(book: Int64, page: Int, offset: Int, length: Int) async throws
        -> AudioSlice
    {
        guard let path = try await answering({ try await store.audioPath(PageKey(book: book, page: page)) }) else {
            throw LectorError(
                status: 404, code: "audio_not_found", message: "Book \(book) has no audio for page \(page)."
            )
        }
        do {
            return try await audioStore.slice(path, offset: offset, length: min(max(length, 0), 4 << 20))
        } catch {
            // The audio is there, in a database that is away for now.
            if store.isOutage(error) { throw LectorError.databaseUnavailable }
            logger.error("[AUDIO] book \(book) page \(page): \(error)")
            throw LectorError(
                status: 404, code: "audio_not_found",
                message: "The audio of book \(book) page \(page) is missing.")
        }
    }

    /// This node's metrics, with the scheduler's gauges read now.
    public distributed func prometheusText() -> String {
        CoordinatorMetrics.queueDepth.record(dispatcher.queued)
        CoordinatorMetrics.jobsInFlight.record(dispatcher.inFlight)
        CoordinatorMetrics.workersUp.record(dispatcher.workerCount)
        return NodeMetrics.text()
    }

    /// Every voice some worker has, with how many workers have it: natural voices first, then by
    /// language.
    public distributed func voices() -> [VoiceListing] {
        var counts: [VoiceInfo: Int] = [:]
        for slot in dispatcher.slots.values {
            for voice in Set(slot.voices) { counts[voice, default: 0] += 1 }
        }
        return counts.map { VoiceListing(voice: $0.key, workers: $0.value) }.sorted {
            ($0.quality == "natural" ? 0 : 1, $0.language, $0.name) < (
                $1.quality == "natural" ? 0 : 1, $1.language, $1.name
            )
        }
    }

    public distributed func workerActivity() -> [WorkerActivity] {
        dispatcher.slots.values.map { slot in
            WorkerActivity(
                node: slot.node, jobsDone: slot.jobsDone,
                currentJobs: slot.inFlight.map(\.description).sorted(),
                concurrency: slot.capacity, ocrLanguages: slot.ocrLanguages)
        }.sorted { $0.node < $1.node }
    }
}
