import Foundation
import GRDB

/// Books and pages in SQLite (WAL, through GRDB): the default store, one file beside one
/// coordinator. Every change that touches a page also refreshes its book's status and progress in
/// the same transaction, so readers never see them disagree.
///
/// Its methods are synchronous witnesses of `BookStore`'s requirements: called from the
/// coordinator they never suspend, so the actor is not re-entered while one runs.
final class SQLiteBookStore: BookStore {
    let pool: DatabasePool

    init(path: String) throws {
        try FileManager.default.createDirectory(
            at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        // WAL with synchronous NORMAL: a commit is not fsynced on its own (the WAL is, at each
        // checkpoint). A power cut can lose the last commits but never corrupts the database, and
        // a lost page update only means the page is voiced again. Two fsyncs a page job were most
        // of the dispatch time.
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: books and pages") { db in
            try db.create(table: "book") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("title", .text).notNull()
                t.column("author", .text)
                t.column("language", .text)
                t.column("voice", .text)
                t.column("total_pages", .integer).notNull()
                t.column("processing_status", .text).notNull()
                t.column("processing_progress", .integer).notNull().defaults(to: 0)
                t.column("created_at", .datetime).notNull()
                t.column("updated_at", .datetime).notNull()
                t.column("processing_started_at", .datetime)
                t.column("completed_at", .datetime)
            }
            try db.create(table: "page") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("book_id", .integer).notNull().references("book", onDelete: .cascade)
                t.column("page_number", .integer).notNull()
                t.column("text_content", .text).notNull()
                t.column("text_source", .text).notNull().defaults(to: "pdf")
                t.column("processing_status", .text).notNull()
                t.column("audio_path", .text)
                t.column("audio_duration", .double)
                t.column("voice", .text)
                t.column("error", .text)
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("worker", .text)
                t.column("started_at", .datetime)
                t.column("completed_at", .datetime)
                t.uniqueKey(["book_id", "page_number"])
            }
            try db.create(
                index: "page_on_book_status", on: "page", columns: ["book_id", "processing_status"])
        }
        migrator.registerMigration("v2: page counts per book") { db in
            // Kept by triggers on every page change, so a status read is one row, not a count
            // over the book's pages (which made each page job O(pages)).
            try db.execute(
                sql: """
                    CREATE TABLE book_counts (
                        book_id INTEGER PRIMARY KEY REFERENCES book(id) ON DELETE CASCADE,
                        pending INTEGER NOT NULL DEFAULT 0, processing INTEGER NOT NULL DEFAULT 0,
                        completed INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,
                        with_audio INTEGER NOT NULL DEFAULT 0);
                    INSERT INTO book_counts (book_id, pending, processing, completed, failed, with_audio)
                        SELECT book_id, SUM(processing_status = 'pending'), SUM(processing_status = 'processing'),
                            SUM(processing_status = 'completed'), SUM(processing_status = 'failed'),
                            SUM(audio_path IS NOT NULL)
                        FROM page GROUP BY book_id;
                    CREATE TRIGGER page_counts_insert AFTER INSERT ON page BEGIN
                        INSERT OR IGNORE INTO book_counts (book_id) VALUES (NEW.book_id);
                        UPDATE book_counts SET
                            pending = pending + (NEW.processing_status = 'pending'),
                            processing = processing + (NEW.processing_status = 'processing'),
                            completed = completed + (NEW.processing_status = 'completed'),
                            failed = failed + (NEW.processing_status = 'failed'),
                            with_audio = with_audio + (NEW.audio_path IS NOT NULL)
                        WHERE book_id = NEW.book_id;
                    END;
                    CREATE TRIGGER page_counts_update AFTER UPDATE OF processing_status, audio_path ON page BEGIN
                        UPDATE book_counts SET
                            pending = pending + (NEW.processing_status = 'pending') - (OLD.processing_status = 'pending'),
                            processing = processing + (NEW.processing_status = 'processing')
                                - (OLD.processing_status = 'processing'),
                            completed = completed + (NEW.processing_status = 'completed')
                                - (OLD.processing_status = 'completed'),
                            failed = failed + (NEW.processing_status = 'failed') - (OLD.processing_status = 'failed'),
                            with_audio = with_audio + (NEW.audio_path IS NOT NULL) - (OLD.audio_path IS NOT NULL)
                        WHERE book_id = NEW.book_id;
                    END;
                    CREATE TRIGGER page_counts_delete AFTER DELETE ON page BEGIN
                        UPDATE book_counts SET
                            pending = pending - (OLD.processing_status = 'pending'),
                            processing = processing - (OLD.processing_status = 'processing'),
                            completed = completed - (OLD.processing_status = 'completed'),
                            failed = failed - (OLD.processing_status = 'failed'),
                            with_audio = with_audio - (OLD.audio_path IS NOT NULL)
                        WHERE book_id = OLD.book_id;
                    END;
                    """)
        }
        migrator.registerMigration("v3: losses, rendering, epoch") { db in
            try db.alter(table: "page") { t in
                t.add(column: "losses", .integer).notNull().defaults(to: 0)
                t.add(column: "rendering", .boolean).notNull().defaults(to: false)
            }
            try db.execute(sql: "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        }
        migrator.registerMigration("v4: language, OCR confidence, text quality") { db in
            try db.alter(table: "page") { t in
                t.add(column: "language", .text)
                t.add(column: "ocr_confidence", .double)
                t.add(column: "text_quality", .text)
                t.add(column: "check_with_ocr", .boolean).notNull().defaults(to: false)
            }
        }
        migrator.registerMigration("v5: voice quality, sentence timings") { db in
            try db.alter(table: "book") { t in t.add(column: "quality", .text) }
            try db.alter(table: "page") { t in
                // JSON: [{"start": s, "end": s, "text_offset": n, "text_length": n}], UTF-16 offsets.
                t.add(column: "segments", .text)
                t.add(column: "engine", .text)
            }
        }
        migrator.registerMigration("v6: listening position, chapters") { db in
            try db.create(table: "chapter") { t in
                t.column("book_id", .integer).notNull().references("book", onDelete: .cascade)
                t.column("ordinal", .integer).notNull()
                t.column("title", .text).notNull()
                t.column("page", .integer).notNull()
                t.primaryKey(["book_id", "ordinal"])
            }
            try db.create(table: "position") { t in
                t.primaryKey("book_id", .integer).references("book", onDelete: .cascade)
                t.column("page", .integer).notNull()
                t.column("seconds", .double).notNull()
                t.column("updated_at", .datetime).notNull()
            }
        }
        return migrator
    }

    /// A new event epoch for this start of the coordinator, one more than the last.
    func nextEpoch() throws -> Int64 {
        try pool.write { db in
            try db.execute(
                sql:
                    "INSERT INTO meta (key, value) VALUES ('epoch', 1) ON CONFLICT(key) DO UPDATE SET value = value + 1"
            )
            return try Int64.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'epoch'") ?? 1
        }
    }

    func bookExists(_ book: Int64) throws -> Bool {
        try pool.read { db in try BookRecord.exists(db, key: book) }
    }

    /// Marks (or clears) a page as being rendered by the coordinator itself. Written before the
    /// render starts, so a crash inside poppler or cairo is seen at the next start.
    func setRendering(_ key: PageKey, _ rendering: Bool) throws {
        try pool.write { db in
            try db.execute(
                sql: "UPDATE page SET rendering = ? WHERE book_id = ? AND page_number = ?",
                arguments: [rendering, key.book, key.page])
        }
    }

    // MARK: Writing

    /// The book, all its pages and its chapters, in one transaction: either the whole book exists
    /// or none of it.
    func createBook(title: String, metadata: UploadMetadata, pages: [NewPage], chapters: [BookChapter] = [])
        throws -> BookRecord
    {
        try pool.write { db in
            let now = Date()
            var book = BookRecord(
                id: nil, title: title, author: metadata.author, language: metadata.language,
                voice: metadata.voice, quality: metadata.quality?.lowercased(),
                totalPages: pages.count, processingStatus: ProcessingStatus.pending.rawValue,
                processingProgress: 0,
                createdAt: now, updatedAt: now)
            try book.insert(db)
            for page in pages {
                var record = PageRecord(
                    id: nil, bookId: book.id!, pageNumber: page.number, textContent: page.needsOCR ? "" : page.text,
                    textSource: page.textSource,
                    processingStatus: (page.unreadable == nil ? ProcessingStatus.pending : .failed).rawValue,
                    error: page.unreadable, attempts: 0, checkWithOcr: page.checkWithOCR)
                try record.insert(db)
            }
            for (ordinal, chapter) in chapters.enumerated() {
                try db.execute(
                    sql: "INSERT INTO chapter (book_id, ordinal, title, page) VALUES (?, ?, ?, ?)",
                    arguments: [book.id!, ordinal, chapter.title, chapter.page])
            }
            try refresh(book: book.id!, in: db)
            return try BookRecord.fetchOne(db, key: book.id!)!
        }
    }

    /// Hands out attempts: each page becomes `processing` with a new attempt number, all in one
    /// transaction (one commit, one refresh per book). Nil for a page that is no longer pending
    /// (deleted, or already done).
    func startAttempts(_ picks: [(key: PageKey, worker: String)], retaking: Set<PageKey>) throws -> [PageJobInput?] {
        try pool.write { db in
            var books: [Int64: Row] = [:]
            var inputs: [PageJobInput?] = []
            inputs.reserveCapacity(picks.count)
            for (key, worker) in picks {
                // Cached statements throughout the per-job paths: compiling SQL (and GRDB's
                // authorizer callbacks while it does) was the largest cost of a job.
                guard
                    let page = try Row.fetchOne(
                        db.cachedStatement(
                            sql: """
                                UPDATE page SET processing_status = 'processing', attempts = attempts + 1, worker = ?,
                                    started_at = ?
                                WHERE book_id = ? AND page_number = ?
                                    AND (processing_status = 'pending' OR (? AND processing_status = 'processing'))
                                RETURNING attempts, text_content, text_source, check_with_ocr
                                """),
                        arguments: [worker, Date(), key.book, key.page, retaking.contains(key)])
                else {
                    inputs.append(nil)
                    continue
                }
                if books[key.book] == nil {
                    guard
                        let book = try Row.fetchOne(
                            db.cachedStatement(
                                sql:
                                    "SELECT voice, language, quality, total_pages, processing_started_at FROM book WHERE id = ?"
                            ),
                            arguments: [key.book])
                    else {
                        inputs.append(nil)
                        continue
                    }
                    if (book["processing_started_at"] as Date?) == nil {
                        try db.cachedStatement(sql: "UPDATE book SET processing_started_at = ? WHERE id = ?").execute(
                            arguments: [Date(), key.book])
                    }
                    books[key.book] = book
                }
                let book = books[key.book]!
                inputs.append(
                    PageJobInput(
                        text: page["text_content"], voice: book["voice"], language: book["language"],
                        totalPages: book["total_pages"], attempts: page["attempts"], textSource: page["text_source"],
                        checkWithOCR: page["check_with_ocr"], quality: book["quality"]))
            }
            for book in books.keys { try refresh(book: book, in: db) }
            return inputs
        }
    }

    /// What decides where a page may be voiced (`VoiceNeed`): its book's choices, its text's
    /// source and the start of its text (enough to tell its language).
    func voiceNeeds(_ keys: [PageKey]) throws -> [PageKey: VoiceNeed] {
        try pool.read { db in
            var needs: [PageKey: VoiceNeed] = [:]
            var books: [Int64: Row] = [:]
            for key in keys {
                if books[key.book] == nil {
                    books[key.book] = try Row.fetchOne(
                        db.cachedStatement(sql: "SELECT voice, language, quality FROM book WHERE id = ?"),
                        arguments: [key.book])
                }
                guard let book = books[key.book],
                    let page = try Row.fetchOne(
                        db.cachedStatement(
                            sql:
                                "SELECT substr(text_content, 1, 4096) AS text, text_source FROM page WHERE book_id = ? AND page_number = ?"
                        ),
                        arguments: [key.book, key.page])
                else { continue }
                needs[key] = VoiceNeed.of(
                    voice: book["voice"], quality: book["quality"], language: book["language"],
                    text: page["text"] ?? "", textSource: page["text_source"] ?? "pdf")
            }
            return needs
        }
    }

    /// Records stored audio files, in one transaction. Only a page still `processing` in its
    /// attempt is changed (anything else is a late or duplicate answer); says for each page
    /// whether it was recorded.
    func complete(_ pages: [PageCompletion]) throws -> [Bool] {
        try pool.write { db in
            var books = Set<Int64>()
            var applied: [Bool] = []
            applied.reserveCapacity(pages.count)
            for page in pages {
                try db.cachedStatement(
                    sql: """
                        UPDATE page SET processing_status = 'completed', audio_path = ?, audio_duration = ?, voice = ?,
                            text_source = ?, text_content = COALESCE(?, text_content), error = NULL, completed_at = ?,
                            language = ?, ocr_confidence = ?, text_quality = ?, segments = ?, engine = ?
                        WHERE book_id = ? AND page_number = ? AND processing_status = 'processing' AND attempts = ?
                        """
                ).execute(
                    arguments: [
                        page.audioPath, page.audioPath == nil ? nil : page.duration, page.voice, page.textSource,
                        page.text, Date(), page.language, page.ocrConfidence, page.textQuality,
                        page.segments.flatMap { try? String(decoding: JSONEncoder().encode($0), as: UTF8.self) },
                        page.engine,
                        page.key.book, page.key.page, page.attempt,
                    ])
                let done = db.changesCount > 0
                applied.append(done)
                if done { books.insert(page.key.book) }
            }
            for book in books { try refresh(book: book, in: db) }
            return applied
        }
    }

    /// Ends an attempt that did not produce audio, deciding with `policy` in the same transaction
    /// (the loss count lives in the row): back to `pending`, or `failed` with the reason.
    func endAttempt(
        _ key: PageKey, attempt: Int, error: String, ending: Dispatcher<any PageSynthesizing>.Ending,
        policy: Dispatcher<any PageSynthesizing>.Policy
    ) throws -> AttemptOutcome {
        try pool.write { db in
            guard var page = try page(key, in: db),
                page.processingStatus == ProcessingStatus.processing.rawValue,
                page.attempts == attempt
            else { return AttemptOutcome(verdict: nil, losses: 0) }
            if ending == .lost { page.losses += 1 }
            // Refused or lost jobs give the attempt back: it was never the page's fault alone.
            if ending != .failed { page.attempts -= 1 }
            let verdict = policy.verdict(for: ending, attempt: attempt, losses: page.losses, message: error)
            switch verdict {
            case .fail(let reason):
                page.processingStatus = ProcessingStatus.failed.rawValue
                page.error = reason
            case .retry, .requeue:
                page.processingStatus = ProcessingStatus.pending.rawValue
                page.error = error
            }
            page.worker = nil
            page.rendering = false
            try page.update(db)
            try refresh(book: key.book, in: db)
            return AttemptOutcome(
                verdict: verdict, losses: page.losses)
        }
    }

    /// Failed pages worth another attempt. Pages poppler could not read (`text_source` 'none') have
    /// nothing a worker could voice: retrying them would mark them completed with no audio.
    static let retryable = "book_id = ? AND processing_status = 'failed' AND text_source != 'none'"

    /// Failed pages go back to pending with fresh attempts; returns their keys.
    func requeueFailed(book: Int64) throws -> [PageKey] {
        try pool.write { db in
            guard try BookRecord.exists(db, key: book) else { throw LectorError.notFound(book: book) }
            let numbers = try Int.fetchAll(
                db,
                sql:
                    "SELECT page_number FROM page WHERE \(Self.retryable) ORDER BY page_number",
                arguments: [book])
            try db.execute(
                sql:
                    "UPDATE page SET processing_status = 'pending', attempts = 0, losses = 0, error = NULL WHERE \(Self.retryable)",
                arguments: [book])
            try db.execute(sql: "UPDATE book SET completed_at = NULL WHERE id = ?", arguments: [book])
            try refresh(book: book, in: db)
            return numbers.map { PageKey(book: book, page: $0) }
        }
    }

    func deleteBook(_ book: Int64) throws {
        try pool.write { db in
            guard try BookRecord.deleteOne(db, key: book) else { throw LectorError.notFound(book: book) }
        }
    }

    /// After a restart: jobs that were out with workers are pending again, their attempt given
    /// back. A page found `rendering` was being drawn by this coordinator when it died: that
    /// counts as a loss, and past `maxLosses` the page fails, so a page that crashes the renderer
    /// cannot bring the coordinator down forever. Returns every pending job, oldest book first,
    /// and the pages failed now.
    func recoverPendingJobs(maxLosses: Int) throws -> (pending: [PageKey], failed: [PageKey]) {
        try pool.write { db in
            let stuck = try Int64.fetchAll(
                db, sql: "SELECT DISTINCT book_id FROM page WHERE processing_status = 'processing' OR rendering")
            let crashedRows = try Row.fetchAll(
                db, sql: "SELECT book_id, page_number, losses FROM page WHERE rendering")
            try db.execute(
                sql: "UPDATE page SET losses = losses + 1, rendering = 0 WHERE rendering")
            try db.execute(
                sql: """
                    UPDATE page SET processing_status = 'failed', worker = NULL,
                    error = 'the coordinator stopped while rendering this page for OCR (' || losses || ' times)'
                    WHERE processing_status = 'processing' AND losses >= ?
                    """, arguments: [maxLosses])
            try db.execute(
                sql:
                    "UPDATE page SET processing_status = 'pending', attempts = MAX(attempts - 1, 0), worker = NULL WHERE processing_status = 'processing'"
            )
            for book in stuck { try refresh(book: book, in: db) }
            let failed = crashedRows.filter { ($0["losses"] as Int) + 1 >= maxLosses }.map {
                PageKey(book: $0["book_id"], page: $0["page_number"])
            }
            let rows = try Row.fetchAll(
                db,
                sql:
                    "SELECT book_id, page_number FROM page WHERE processing_status = 'pending' ORDER BY book_id, page_number"
            )
            return (rows.map { PageKey(book: $0["book_id"], page: $0["page_number"]) }, failed)
        }
    }

    /// Recomputes a book's counts-derived columns; returns the counts.
    @discardableResult
    private func refresh(book: Int64, in db: Database) throws -> ProgressMath.Counts {
        let counts = try Self.counts(book: book, in: db)
        let status = ProgressMath.status(counts)
        let completedAt: Date? = status == .completed ? Date() : nil
        try db.cachedStatement(
            sql: """
                UPDATE book SET processing_status = ?, processing_progress = ?, updated_at = ?,
                completed_at = CASE WHEN ? IS NULL THEN NULL ELSE COALESCE(completed_at, ?) END WHERE id = ?
                """
        ).execute(
            arguments: [
                status.rawValue, ProgressMath.progress(counts), Date(), completedAt, completedAt, book,
            ])
        return counts
    }

    // MARK: Reading

    private func page(_ key: PageKey, in db: Database) throws -> PageRecord? {
        try PageRecord.filter(Column("book_id") == key.book && Column("page_number") == key.page)
            .fetchOne(db)
    }

    /// A book's page counts, kept by triggers (see migration v2).
    static func counts(book: Int64, in db: Database) throws -> ProgressMath.Counts {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT pending, processing, completed, failed FROM book_counts WHERE book_id = ?"),
                arguments: [book])
        else { return ProgressMath.Counts() }
        return ProgressMath.Counts(
            pending: row["pending"], processing: row["processing"], completed: row["completed"], failed: row["failed"])
    }

    func summaries() throws -> [BookSummary] {
        try pool.read { db in
            try BookRecord.order(Column("id").desc).fetchAll(db).map {
                BookSummary(
                    id: $0.id!, title: $0.title, totalPages: $0.totalPages,
                    processingStatus: ProcessingStatus(rawValue: $0.processingStatus) ?? .pending,
                    processingProgress: $0.processingProgress, createdAt: $0.createdAt)
            }
        }
    }

    func status(book id: Int64, now: Date = Date()) throws -> BookStatus {
        try pool.read { db in
            // One cached statement: status is read after every page and polled by clients.
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            SELECT book.title, book.total_pages, book.processing_started_at, book.created_at,
                                book.updated_at, book_counts.pending AS pages_pending, book_counts.processing AS pages_processing,
                                book_counts.completed AS pages_completed, book_counts.failed AS pages_failed,
                                book_counts.with_audio AS pages_with_audio
                            FROM book LEFT JOIN book_counts ON book_counts.book_id = book.id WHERE book.id = ?
                            """),
                    arguments: [id])
            else {
                throw LectorError.notFound(book: id)
            }
            // Read by column, not through Codable: this runs after every page.
            let title: String = row["title"]
            let totalPages: Int = row["total_pages"]
            let startedAt: Date? = row["processing_started_at"]
            let createdAt: Date = row["created_at"]
            let updatedAt: Date = row["updated_at"]
            let counts = ProgressMath.Counts(
                pending: row["pages_pending"] ?? 0, processing: row["pages_processing"] ?? 0,
                completed: row["pages_completed"] ?? 0, failed: row["pages_failed"] ?? 0)
            let withAudio: Int = row["pages_with_audio"] ?? 0
            return BookStatus(
                bookId: id, title: title, processingStatus: ProgressMath.status(counts),
                processingProgress: ProgressMath.progress(counts), totalPages: totalPages,
                pagesStatus: .init(
                    pending: counts.pending, processing: counts.processing, completed: counts.completed,
                    failed: counts.failed),
                audioReady: counts.total > 0 && counts.completed == counts.total, pagesWithAudio: withAudio,
                estimatedTimeRemaining: ProgressMath.estimatedTimeRemaining(
                    counts, startedAt: startedAt, now: now),
                createdAt: createdAt, lastUpdated: updatedAt)
        }
    }

    func pages(book id: Int64, offset: Int, limit: Int) throws -> BookPages {
        try pool.read { db in
            guard let book = try BookRecord.fetchOne(db, key: id) else {
                throw LectorError.notFound(book: id)
            }
            let records = try PageRecord.filter(Column("book_id") == id).order(Column("page_number"))
                .limit(limit, offset: offset).fetchAll(db)
            return BookPages(
                offset: offset, limit: limit,
                book: .init(
                    id: id, title: book.title, totalPages: book.totalPages,
                    processingStatus: ProcessingStatus(rawValue: book.processingStatus) ?? .pending),
                pages: records.map { record in
                    let status = ProcessingStatus(rawValue: record.processingStatus) ?? .pending
                    return BookPages.Page(
                        id: record.id!, pageNumber: record.pageNumber, textContent: record.textContent,
                        audioUrl: record.audioPath == nil
                            ? nil : BookPages.Page.audioPath(book: id, page: record.pageNumber),
                        audioDuration: record.audioPath == nil
                            ? nil : Int((record.audioDuration ?? 0).rounded()),
                        processingStatus: status, voice: record.voice, textSource: record.textSource,
                        error: status == .failed ? (record.error ?? "failed") : nil,
                        language: record.language, ocrConfidence: record.ocrConfidence,
                        textQuality: record.textQuality,
                        segments: record.segments.flatMap {
                            try? JSONDecoder().decode([AudioSegment].self, from: Data($0.utf8))
                        },
                        engine: record.engine)
                })
        }
    }

    func detail(book id: Int64) throws -> BookDetail {
        try pool.read { db in
            guard let book = try BookRecord.fetchOne(db, key: id) else { throw LectorError.notFound(book: id) }
            let chapters = try Row.fetchAll(
                db, sql: "SELECT title, page FROM chapter WHERE book_id = ? ORDER BY ordinal", arguments: [id]
            ).map { BookChapter(title: $0["title"], page: $0["page"]) }
            return BookDetail(
                id: id, title: book.title, author: book.author, language: book.language, voice: book.voice,
                quality: book.quality, totalPages: book.totalPages,
                processingStatus: ProcessingStatus(rawValue: book.processingStatus) ?? .pending,
                createdAt: book.createdAt, chapters: chapters)
        }
    }

    /// The outline's chapters (`createBook` keeps them).
    func chapters(book: Int64) throws -> [BookChapter] {
        try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT title, page FROM chapter WHERE book_id = ? ORDER BY ordinal", arguments: [book]
            ).map { BookChapter(title: $0["title"], page: $0["page"]) }
        }
    }

    /// Where the book's listener was; page 1 at 0 s, never saved, when none was.
    func position(book: Int64) throws -> ListeningPosition {
        try pool.read { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM book WHERE id = ?", arguments: [book]) != nil else {
                throw LectorError.notFound(book: book)
            }
            let row = try Row.fetchOne(
                db, sql: "SELECT page, seconds, updated_at FROM position WHERE book_id = ?", arguments: [book])
            return ListeningPosition(
                bookId: book, page: row?["page"] ?? 1, seconds: row?["seconds"] ?? 0, updatedAt: row?["updated_at"])
        }
    }

    /// Saves the place, checked against the book: a page it has, seconds within that page's audio
    /// (when it has any yet).
    func savePosition(book: Int64, page: Int, seconds: Double, now: Date = Date()) throws -> ListeningPosition {
        try pool.write { db in
            guard let total = try Int.fetchOne(db, sql: "SELECT total_pages FROM book WHERE id = ?", arguments: [book])
            else { throw LectorError.notFound(book: book) }
            guard (1...max(total, 1)).contains(page) else {
                throw LectorError(
                    status: 400, code: "invalid_position",
                    message: "page must be from 1 to \(total), the pages of book \(book).")
            }
            let duration = try Double.fetchOne(
                db,
                sql: "SELECT audio_duration FROM page WHERE book_id = ? AND page_number = ? AND audio_path IS NOT NULL",
                arguments: [book, page])
            guard seconds.isFinite, seconds >= 0, seconds <= (duration.map { $0 + 1 } ?? 4 * 3600) else {
                throw LectorError(
                    status: 400, code: "invalid_position",
                    message:
                        "seconds must be from 0 to the length of page \(page)'s audio\(duration.map { " (\(Int($0.rounded())) s)" } ?? "")."
                )
            }
            try db.execute(
                sql: """
                    INSERT INTO position (book_id, page, seconds, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT(book_id) DO UPDATE SET page = excluded.page, seconds = excluded.seconds,
                        updated_at = excluded.updated_at
                    """, arguments: [book, page, seconds, now])
            return ListeningPosition(bookId: book, page: page, seconds: seconds, updatedAt: now)
        }
    }

    /// `pending`, `processing`, `completed` or `failed`; nil for no such page.
    func pageStatus(_ key: PageKey) throws -> String? {
        try pool.read { db in
            try String.fetchOne(
                db.cachedStatement(
                    sql: "SELECT processing_status FROM page WHERE book_id = ? AND page_number = ?"),
                arguments: [key.book, key.page])
        }
    }

    func audioPath(_ key: PageKey) throws -> String? {
        try pool.read { db in try page(key, in: db)?.audioPath }
    }

    /// Every page's stored audio in page order, once all pages are completed; nil before that.
    func audioPaths(book: Int64) throws -> [(page: Int, path: String)]? {
        try pool.read { db in
            guard try BookRecord.exists(db, key: book) else { throw LectorError.notFound(book: book) }
            let counts = try Self.counts(book: book, in: db)
            guard counts.total > 0, counts.completed == counts.total else { return nil }
            let rows = try Row.fetchAll(
                db,
                sql:
                    "SELECT page_number, audio_path FROM page WHERE book_id = ? AND audio_path IS NOT NULL ORDER BY page_number",
                arguments: [book])
            return rows.map { (page: $0["page_number"], path: $0["audio_path"]) }
        }
    }

    func totalDuration(book: Int64) throws -> Double {
        try pool.read { db in
            try Double.fetchOne(
                db, sql: "SELECT COALESCE(SUM(audio_duration), 0) FROM page WHERE book_id = ?",
                arguments: [book]) ?? 0
        }
    }
}

extension SQLiteBookStore {
    /// Migrations run when the file is opened (`init`): nothing left to prepare.
    func prepare() {}

    /// GRDB closes the pool when the store is released.
    func close() {}
}
