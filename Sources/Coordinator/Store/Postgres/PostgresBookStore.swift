import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Books and pages in PostgreSQL, for coordinators on several machines sharing one replicated
/// database. The same rows and rules as `SQLiteBookStore`: counters kept by a trigger, one
/// transaction per upload, per batch of attempt starts and per batch of completions.
///
/// Every call suspends on the network, so the coordinator may run other messages meanwhile; its
/// callers re-check what they hold after each call (see `Coordinator.pump`).
final class PostgresBookStore: BookStore {
    let client: PostgresClient
    let logger: Logger
    private let running: Task<Void, Never>
    /// The lease every write must still hold (nil: no lease in use, one coordinator).
    let fence = Mutex<LeaseFence?>(nil)

    /// A write or read that has not answered in this time is given up (`DatabaseTimeLimit`).
    static let transactionLimit: Duration = .seconds(30)
    /// Tests only: an error to report once a completion has committed, as when the link drops
    /// between the commit and its answer.
    let failAfterCompletionCommits = Mutex<(any Error)?>(nil)
    /// Tests only: the n-th completion from now (1: the next) is given up at once
    /// (`DatabaseTimeout`) and lands just before the next attempt's end is recorded, as one
    /// waiting on a row lock does: it is ahead of that write in the lock's queue.
    let landCompletionLate = Mutex<Int?>(nil)
    private let lateCompletion = Mutex<[PageCompletion]?>(nil)

    /// `url`: `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
    init(url: String, logger: Logger) throws {
        let configuration = try PostgresURL.configuration(url)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.logger = logger
        let client = self.client
        self.running = Task { await client.run() }
    }

    /// A transaction whose closure's own error is what the caller sees (a `LectorError` stays
    /// one), not postgres-nio's wrapper around it; one that has not answered within
    /// `transactionLimit` fails with `DatabaseTimeout`.
    nonisolated(nonsending) func transaction<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let fence = self.fence.withLock { $0 }
        let (client, logger) = (self.client, self.logger)
        return try await DatabaseTimeLimit.run(within: Self.transactionLimit) {
            try await Self.transaction(on: client, fence: fence, logger: logger, body)
        }
    }

    /// A read bounded like a transaction: a reply that never comes would hold an HTTP request,
    /// or the coordinator's report of a page, for good.
    nonisolated(nonsending) func read<Result: Sendable>(_ body: @escaping @Sendable () async throws -> Result)
        async throws -> Result
    {
        try await DatabaseTimeLimit.run(within: Self.transactionLimit, body)
    }

    private static func transaction<Result: Sendable>(
        on client: PostgresClient, fence: LeaseFence?, logger: Logger,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                if let fence {
                    // A process frozen mid-transaction (SIGSTOP, a stalled VM) would hold the
                    // lease row below forever: the server ends such a transaction itself.
                    let idle = "\(max(fence.idleLimit.components.seconds, 1) * 1000)"
                    try await connection.query(
                        "SELECT set_config('idle_in_transaction_session_timeout', \(idle), true)", logger: logger)
                    // Locks the lease row until this commits: a takeover waits for it, and a
                    // coordinator whose lease has gone writes nothing.
                    let held = try await connection.query(
                        """
                        SELECT 1 FROM coordinator_lease WHERE id = 1 AND holder = \(fence.holder)
                            AND epoch = \(fence.epoch) AND expires_at > now() FOR SHARE
                        """, logger: logger)
                    guard try await firstValue(held, Int.self) != nil else {
                        throw CoordinatorDeposed(epoch: fence.epoch)
                    }
                }
                return try await body(connection)
            }
        } catch let error as PostgresTransactionError {
            if let inner = error.closureError, error.rollbackError == nil { throw inner }
            throw error
        }
    }

    func isOutage(_ error: any Error) -> Bool { PostgresOutage.covers(error) }

    nonisolated(nonsending) func prepare() async throws {
        try await PostgresSchema.migrate(client, logger: logger)
    }

    nonisolated(nonsending) func close() async {
        running.cancel()
        _ = await running.value
    }

    nonisolated(nonsending) func nextEpoch() async throws -> Int64 {
        try await transaction { [self] connection in
            let rows = try await connection.query(
                """
                INSERT INTO meta (key, value) VALUES ('epoch', 1)
                ON CONFLICT (key) DO UPDATE SET value = meta.value + 1 RETURNING value
                """, logger: logger)
            return try await firstValue(rows, Int64.self) ?? 1
        }
    }

    nonisolated(nonsending) func bookExists(_ book: Int64) async throws -> Bool {
        try await read { [self] in
            try await firstValue(client.query("SELECT 1 FROM book WHERE id = \(book)", logger: logger), Int.self) != nil
        }
    }

    nonisolated(nonsending) func setRendering(_ key: PageKey, _ rendering: Bool) async throws {
        try await transaction { [self] connection in
            _ = try await connection.query(
                "UPDATE page SET rendering = \(rendering) WHERE book_id = \(key.book) AND page_number = \(key.page)",
                logger: logger)
        }
    }

    // MARK: Writing

    nonisolated(nonsending) func createBook(
        title: String, metadata: UploadMetadata, pages: [NewPage], chapters: [BookChapter]
    ) async throws
        -> BookRecord
    {
        let now = Date()
        let quality = metadata.quality?.lowercased()
        return try await transaction { [self] connection in
            guard
                let id = try await firstValue(
                    connection.query(
                        """
                        INSERT INTO book (title, author, language, voice, quality, total_pages, processing_status,
                            processing_progress, created_at, updated_at)
                        VALUES (\(title), \(metadata.author), \(metadata.language), \(metadata.voice), \(quality),
                            \(pages.count), 'pending', 0, \(now), \(now))
                        RETURNING id
                        """, logger: logger), Int64.self)
            else { throw LectorError(status: 500, code: "store_failed", message: "The book could not be stored.") }
            // Pages go in as arrays, a thousand at a time: one statement per page made a
            // 5000-page upload as many round trips.
            for start in stride(from: 0, to: pages.count, by: 1000) {
                let batch = pages[start..<min(start + 1000, pages.count)]
                let numbers = batch.map(\.number)
                let texts = batch.map { $0.needsOCR ? "" : $0.text }
                let sources = batch.map(\.textSource)
                let statuses = batch.map { $0.unreadable == nil ? "pending" : "failed" }
                let errors = batch.map { $0.unreadable ?? "" }
                let checks = batch.map(\.checkWithOCR)
                try await connection.query(
                    """
                    INSERT INTO page (book_id, page_number, text_content, text_source, processing_status, error,
                        attempts, check_with_ocr)
                    SELECT \(id), n, t, s, st, NULLIF(e, ''), 0, c
                    FROM unnest(\(numbers)::bigint[], \(texts)::text[], \(sources)::text[], \(statuses)::text[],
                        \(errors)::text[], \(checks)::boolean[]) AS x(n, t, s, st, e, c)
                    """, logger: logger)
            }
            for (ordinal, chapter) in chapters.enumerated() {
                try await connection.query(
                    """
                    INSERT INTO chapter (book_id, ordinal, title, page)
                    VALUES (\(id), \(ordinal), \(chapter.title), \(chapter.page))
                    """, logger: logger)
            }
            try await Self.refresh(book: id, on: connection, logger: logger)
            return try await Self.bookRecord(id, on: connection, logger: logger)!
        }
    }

    nonisolated(nonsending) func startAttempts(_ picks: [(key: PageKey, worker: String)], retaking: Set<PageKey>)
        async throws -> [PageJobInput?]
    {
        let now = Date()
        return try await transaction { [self] connection in
            var books: [Int64: (voice: String?, language: String?, quality: String?, total: Int)] = [:]
            var inputs = [PageJobInput?](repeating: nil, count: picks.count)
            // Rows locked in one order, (book, page), by every batch: two batches cannot deadlock.
            for index in picks.indices.sorted(by: { Self.precedes(picks[$0].key, picks[$1].key) }) {
                let (key, worker) = picks[index]
                let rows = try await connection.query(
                    """
                    UPDATE page SET processing_status = 'processing', attempts = attempts + 1, worker = \(worker),
                        started_at = \(now)
                    WHERE book_id = \(key.book) AND page_number = \(key.page)
                        AND (processing_status = 'pending' OR (\(retaking.contains(key))::boolean AND processing_status = 'processing'))
                    RETURNING attempts, text_content, text_source, check_with_ocr
                    """, logger: logger)
                var page: (Int, String, String, Bool)?
                for try await row in rows.decode((Int, String, String, Bool).self) { page = row }
                guard let page else { continue }
                if books[key.book] == nil {
                    let rows = try await connection.query(
                        """
                        UPDATE book SET processing_started_at = COALESCE(processing_started_at, \(now))
                        WHERE id = \(key.book) RETURNING voice, language, quality, total_pages
                        """, logger: logger)
                    for try await (voice, language, quality, total) in rows.decode(
                        (String?, String?, String?, Int).self)
                    {
                        books[key.book] = (voice, language, quality, total)
                    }
                }
                guard let book = books[key.book] else { continue }
                inputs[index] = PageJobInput(
                    text: page.1, voice: book.voice, language: book.language, totalPages: book.total,
                    attempts: page.0, textSource: page.2, checkWithOCR: page.3, quality: book.quality)
            }
            for book in books.keys.sorted() { try await Self.refresh(book: book, on: connection, logger: logger) }
            return inputs
        }
    }

    nonisolated(nonsending) func voiceNeeds(_ keys: [PageKey]) async throws -> [PageKey: VoiceNeed] {
        try await read { [self] in
            var needs: [PageKey: VoiceNeed] = [:]
            // One query per book, for all its keys at once.
            for (book, keys) in Dictionary(grouping: keys, by: \.book) {
                let numbers = keys.map(\.page)
                let rows = try await client.query(
                    """
                    SELECT page.page_number, substr(page.text_content, 1, 4096), page.text_source,
                        book.voice, book.language, book.quality
                    FROM page JOIN book ON book.id = page.book_id
                    WHERE page.book_id = \(book) AND page.page_number = ANY(\(numbers)::bigint[])
                    """, logger: logger)
                for try await (number, text, source, voice, language, quality) in rows.decode(
                    (Int, String, String, String?, String?, String?).self)
                {
                    needs[PageKey(book: book, page: number)] = VoiceNeed.of(
                        voice: voice, quality: quality, language: language, text: text, textSource: source)
                }
            }
            return needs
        }
    }

    static func precedes(_ a: PageKey, _ b: PageKey) -> Bool { (a.book, a.page) < (b.book, b.page) }

    nonisolated(nonsending) func complete(_ pages: [PageCompletion]) async throws -> [Bool] {
        let late = landCompletionLate.withLock { countdown in
            guard let left = countdown else { return false }
            countdown = left > 1 ? left - 1 : nil
            return left <= 1
        }
        if late {
            lateCompletion.withLock { $0 = pages }
            throw DatabaseTimeout(limit: Self.transactionLimit)
        }
        let now = Date()
        let applied = try await transaction { [self] connection in
            var books = Set<Int64>()
            var applied = [Bool](repeating: false, count: pages.count)
            for index in pages.indices.sorted(by: { Self.precedes(pages[$0].key, pages[$1].key) }) {
                let page = pages[index]
                let segments = page.segments.flatMap { try? String(decoding: JSONEncoder().encode($0), as: UTF8.self) }
                let duration: Double? = page.audioPath == nil ? nil : page.duration
                let rows = try await connection.query(
                    """
                    UPDATE page SET processing_status = 'completed', audio_path = \(page.audioPath),
                        audio_duration = \(duration), voice = \(page.voice), text_source = \(page.textSource),
                        text_content = COALESCE(\(page.text), text_content), error = NULL, completed_at = \(now),
                        language = \(page.language), ocr_confidence = \(page.ocrConfidence),
                        text_quality = \(page.textQuality), segments = \(segments), engine = \(page.engine)
                    WHERE book_id = \(page.key.book) AND page_number = \(page.key.page)
                        AND processing_status = 'processing' AND attempts = \(page.attempt)
                    RETURNING 1
                    """, logger: logger)
                var done = false
                for try await _ in rows { done = true }
                applied[index] = done
                if done { books.insert(page.key.book) }
            }
            for book in books.sorted() { try await Self.refresh(book: book, on: connection, logger: logger) }
            return applied
        }
        if let error = failAfterCompletionCommits.withLock({ $0.take() }) { throw error }
        return applied
    }

    nonisolated(nonsending) func endAttempt(
        _ key: PageKey, attempt: Int, error: String, ending: Dispatcher<any PageSynthesizing>.Ending,
        policy: Dispatcher<any PageSynthesizing>.Policy
    ) async throws -> AttemptOutcome {
        if let late = lateCompletion.withLock({ $0.take() }) { _ = try await complete(late) }
        return try await transaction { [self] connection in
            let rows = try await connection.query(
                """
                SELECT losses FROM page WHERE book_id = \(key.book) AND page_number = \(key.page)
                    AND processing_status = 'processing' AND attempts = \(attempt) FOR UPDATE
                """, logger: logger)
            guard var losses = try await firstValue(rows, Int.self) else {
                return AttemptOutcome(verdict: nil, losses: 0)
            }
            if ending == .lost { losses += 1 }
            // Refused or lost jobs give the attempt back: it was never the page's fault alone.
            let attempts = ending != .failed ? attempt - 1 : attempt
            let verdict = policy.verdict(for: ending, attempt: attempt, losses: losses, message: error)
            let (status, message): (String, String) =
                switch verdict {
                case .fail(let reason): ("failed", reason)
                case .retry, .requeue: ("pending", error)
                }
            try await connection.query(
                """
                UPDATE page SET processing_status = \(status), error = \(message), losses = \(losses),
                    attempts = \(attempts), worker = NULL, rendering = FALSE
                WHERE book_id = \(key.book) AND page_number = \(key.page)
                """, logger: logger)
            try await Self.refresh(book: key.book, on: connection, logger: logger)
            return AttemptOutcome(verdict: verdict, losses: losses)
        }
    }

    nonisolated(nonsending) func requeueFailed(book: Int64) async throws -> [PageKey] {
        try await transaction { [self] connection in
            guard
                try await firstValue(
                    connection.query("SELECT 1 FROM book WHERE id = \(book)", logger: logger), Int.self)
                    != nil
            else { throw LectorError.notFound(book: book) }
            // Pages poppler could not read (`none`) have nothing a worker could voice.
            let rows = try await connection.query(
                """
                UPDATE page SET processing_status = 'pending', attempts = 0, losses = 0, error = NULL
                WHERE book_id = \(book) AND processing_status = 'failed' AND text_source <> 'none'
                RETURNING page_number
                """, logger: logger)
            var numbers: [Int] = []
            for try await number in rows.decode(Int.self) { numbers.append(number) }
            try await connection.query("UPDATE book SET completed_at = NULL WHERE id = \(book)", logger: logger)
            try await Self.refresh(book: book, on: connection, logger: logger)
            return numbers.sorted().map { PageKey(book: book, page: $0) }
        }
    }

    nonisolated(nonsending) func deleteBook(_ book: Int64) async throws {
        try await transaction { [self] connection in
            let rows = try await connection.query("DELETE FROM book WHERE id = \(book) RETURNING id", logger: logger)
            guard try await firstValue(rows, Int64.self) != nil else { throw LectorError.notFound(book: book) }
        }
    }

    nonisolated(nonsending) func recoverPendingJobs(maxLosses: Int) async throws -> (
        pending: [PageKey], failed: [PageKey]
    ) {
        try await transaction { [self] connection in
            var stuck: [Int64] = []
            for try await book in try await connection.query(
                "SELECT DISTINCT book_id FROM page WHERE processing_status = 'processing' OR rendering",
                logger: logger
            ).decode(Int64.self) { stuck.append(book) }
            var failed: [PageKey] = []
            for try await (book, page, losses) in try await connection.query(
                "UPDATE page SET losses = losses + 1, rendering = FALSE WHERE rendering RETURNING book_id, page_number, losses",
                logger: logger
            ).decode((Int64, Int, Int).self) where losses >= maxLosses {
                failed.append(PageKey(book: book, page: page))
            }
            try await connection.query(
                """
                UPDATE page SET processing_status = 'failed', worker = NULL,
                    error = 'the coordinator stopped while rendering this page for OCR (' || losses || ' times)'
                WHERE processing_status = 'processing' AND losses >= \(maxLosses)
                """, logger: logger)
            try await connection.query(
                """
                UPDATE page SET processing_status = 'pending', attempts = GREATEST(attempts - 1, 0), worker = NULL
                WHERE processing_status = 'processing'
                """, logger: logger)
            for book in stuck { try await Self.refresh(book: book, on: connection, logger: logger) }
            var pending: [PageKey] = []
            for try await (book, page) in try await connection.query(
                "SELECT book_id, page_number FROM page WHERE processing_status = 'pending' ORDER BY book_id, page_number",
                logger: logger
            ).decode((Int64, Int).self) { pending.append(PageKey(book: book, page: page)) }
            return (pending, failed.sorted { ($0.book, $0.page) < ($1.book, $1.page) })
        }
    }

    /// Recomputes a book's status and progress from its counters, in the caller's transaction.
    private static func refresh(book: Int64, on connection: PostgresConnection, logger: Logger) async throws {
        let counts = try await counts(book: book, on: connection, logger: logger)
        let status = ProgressMath.status(counts)
        let now = Date()
        let completedAt: Date? = status == .completed ? now : nil
        try await connection.query(
            """
            UPDATE book SET processing_status = \(status.rawValue), processing_progress = \(ProgressMath.progress(counts)),
                updated_at = \(now),
                completed_at = CASE WHEN \(completedAt)::timestamptz IS NULL THEN NULL
                    ELSE COALESCE(completed_at, \(completedAt)) END
            WHERE id = \(book)
            """, logger: logger)
    }

    private static func counts(book: Int64, on connection: PostgresConnection, logger: Logger) async throws
        -> ProgressMath.Counts
    {
        let rows = try await connection.query(
            "SELECT pending, processing, completed, failed FROM book_counts WHERE book_id = \(book)", logger: logger)
        for try await (pending, processing, completed, failed) in rows.decode((Int, Int, Int, Int).self) {
            return ProgressMath.Counts(pending: pending, processing: processing, completed: completed, failed: failed)
        }
        return ProgressMath.Counts()
    }

    private static func bookRecord(_ id: Int64, on connection: PostgresConnection, logger: Logger) async throws
        -> BookRecord?
    {
        let rows = try await connection.query(
            """
            SELECT title, author, language, voice, quality, total_pages, processing_status, processing_progress,
                created_at, updated_at, processing_started_at, completed_at
            FROM book WHERE id = \(id)
            """, logger: logger)
        for try await row in rows.decode(
            (String, String?, String?, String?, String?, Int, String, Int, Date, Date, Date?, Date?).self)
        {
            return BookRecord(
                id: id, title: row.0, author: row.1, language: row.2, voice: row.3, quality: row.4,
                totalPages: row.5, processingStatus: row.6, processingProgress: row.7,
                createdAt: row.8, updatedAt: row.9, processingStartedAt: row.10, completedAt: row.11)
        }
        return nil
    }
}

/// The first value of the first row, or nil for no row.
func firstValue<T: PostgresDecodable & Sendable>(_ rows: PostgresRowSequence, _ type: T.Type) async throws -> T? {
    for try await value in rows.decode(T.self) { return value }
    return nil
}
