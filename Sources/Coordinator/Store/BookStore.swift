import Foundation

/// Where books, pages and their progress live: `SQLiteBookStore` (one file, the default) or
/// `PostgresBookStore` (a database every coordinator can reach). Both keep the same guarantees,
/// checked by one conformance suite: an upload is one transaction, attempt starts and completions
/// are batched into one transaction each, and a book's counters change with its pages.
///
/// Requirements are `nonisolated(nonsending)`: they run on the caller's actor, so a store whose
/// methods do not suspend (SQLite's are synchronous) never lets the coordinator be re-entered
/// mid-call.
protocol BookStore: Sendable {
    /// Creates or updates the schema; the first call a coordinator makes.
    nonisolated(nonsending) func prepare() async throws
    /// A new event epoch for this start of the coordinator, one more than the last.
    nonisolated(nonsending) func nextEpoch() async throws -> Int64
    nonisolated(nonsending) func bookExists(_ book: Int64) async throws -> Bool
    /// Marks (or clears) a page as being rendered by the coordinator itself, before the render.
    nonisolated(nonsending) func setRendering(_ key: PageKey, _ rendering: Bool) async throws

    /// The book, all its pages and its chapters, in one transaction.
    nonisolated(nonsending) func createBook(
        title: String, metadata: UploadMetadata, pages: [NewPage], chapters: [BookChapter]
    ) async throws -> BookRecord
    /// Pending pages become `processing` with a new attempt, in one transaction; nil for a page
    /// that is no longer pending. A page in `retaking` may also be `processing`: a start whose
    /// commit's answer was lost (the database went away) may have been made, with no job behind
    /// it, and only its coordinator knows.
    nonisolated(nonsending) func startAttempts(_ picks: [(key: PageKey, worker: String)], retaking: Set<PageKey>)
        async throws -> [PageJobInput?]
    nonisolated(nonsending) func voiceNeeds(_ keys: [PageKey]) async throws -> [PageKey: VoiceNeed]
    /// Records stored audio in one transaction; only a page still `processing` in that attempt
    /// changes. Says for each page whether it was recorded.
    nonisolated(nonsending) func complete(_ pages: [PageCompletion]) async throws -> [Bool]
    /// Ends an attempt that produced no audio, deciding with `policy` in the same transaction.
    nonisolated(nonsending) func endAttempt(
        _ key: PageKey, attempt: Int, error: String, ending: Dispatcher<any PageSynthesizing>.Ending,
        policy: Dispatcher<any PageSynthesizing>.Policy
    ) async throws -> AttemptOutcome
    /// Failed pages go back to pending with fresh attempts; returns their keys.
    nonisolated(nonsending) func requeueFailed(book: Int64) async throws -> [PageKey]
    nonisolated(nonsending) func deleteBook(_ book: Int64) async throws
    /// After a restart: jobs out with workers are pending again; pages found `rendering` count a
    /// loss. Returns every pending job, oldest book first, and the pages failed now.
    nonisolated(nonsending) func recoverPendingJobs(maxLosses: Int) async throws -> (
        pending: [PageKey], failed: [PageKey]
    )

    nonisolated(nonsending) func summaries() async throws -> [BookSummary]
    nonisolated(nonsending) func status(book id: Int64, now: Date) async throws -> BookStatus
    nonisolated(nonsending) func pages(book id: Int64, offset: Int, limit: Int) async throws -> BookPages
    nonisolated(nonsending) func detail(book id: Int64) async throws -> BookDetail
    nonisolated(nonsending) func chapters(book: Int64) async throws -> [BookChapter]
    nonisolated(nonsending) func position(book: Int64) async throws -> ListeningPosition
    nonisolated(nonsending) func savePosition(book: Int64, page: Int, seconds: Double, now: Date) async throws
        -> ListeningPosition
    nonisolated(nonsending) func pageStatus(_ key: PageKey) async throws -> String?
    nonisolated(nonsending) func audioPath(_ key: PageKey) async throws -> String?
    /// Every page's stored audio in page order, once all pages are completed; nil before that.
    nonisolated(nonsending) func audioPaths(book: Int64) async throws -> [(page: Int, path: String)]?
    nonisolated(nonsending) func totalDuration(book: Int64) async throws -> Double
    /// Lets go of connections; the store is not used after this.
    nonisolated(nonsending) func close() async
    /// Whether `error`, thrown by this store, says the database is out of reach for now.
    func isOutage(_ error: any Error) -> Bool
}

extension BookStore {
    func isOutage(_ error: any Error) -> Bool { false }

    nonisolated(nonsending) func status(book id: Int64) async throws -> BookStatus {
        try await status(book: id, now: Date())
    }

    nonisolated(nonsending) func savePosition(book: Int64, page: Int, seconds: Double) async throws
        -> ListeningPosition
    {
        try await savePosition(book: book, page: page, seconds: seconds, now: Date())
    }

    nonisolated(nonsending) func createBook(title: String, metadata: UploadMetadata, pages: [NewPage])
        async throws -> BookRecord
    {
        try await createBook(title: title, metadata: metadata, pages: pages, chapters: [])
    }
}

extension BookStore {
    nonisolated(nonsending) func startAttempts(_ picks: [(key: PageKey, worker: String)]) async throws
        -> [PageJobInput?]
    {
        try await startAttempts(picks, retaking: [])
    }
}
