import Foundation
import PostgresNIO

extension PostgresBookStore {
    nonisolated(nonsending) func summaries() async throws -> [BookSummary] {
        try await read { [self] in
            var summaries: [BookSummary] = []
            let rows = try await client.query(
                "SELECT id, title, total_pages, processing_status, processing_progress, created_at FROM book ORDER BY id DESC",
                logger: logger)
            for try await (id, title, total, status, progress, created) in rows.decode(
                (Int64, String, Int, String, Int, Date).self)
            {
                summaries.append(
                    BookSummary(
                        id: id, title: title, totalPages: total,
                        processingStatus: ProcessingStatus(rawValue: status) ?? .pending, processingProgress: progress,
                        createdAt: created))
            }
            return summaries
        }
    }

    nonisolated(nonsending) func status(book id: Int64, now: Date) async throws -> BookStatus {
        try await read { [self] in
            let rows = try await client.query(
                """
                SELECT book.title, book.total_pages, book.processing_started_at, book.created_at, book.updated_at,
                    COALESCE(c.pending, 0), COALESCE(c.processing, 0), COALESCE(c.completed, 0), COALESCE(c.failed, 0),
                    COALESCE(c.with_audio, 0)
                FROM book LEFT JOIN book_counts c ON c.book_id = book.id WHERE book.id = \(id)
                """, logger: logger)
            for try await row in rows.decode((String, Int, Date?, Date, Date, Int, Int, Int, Int, Int).self) {
                let counts = ProgressMath.Counts(pending: row.5, processing: row.6, completed: row.7, failed: row.8)
                return BookStatus(
                    bookId: id, title: row.0, processingStatus: ProgressMath.status(counts),
                    processingProgress: ProgressMath.progress(counts), totalPages: row.1,
                    pagesStatus: .init(
                        pending: counts.pending, processing: counts.processing, completed: counts.completed,
                        failed: counts.failed),
                    audioReady: counts.total > 0 && counts.completed == counts.total, pagesWithAudio: row.9,
                    estimatedTimeRemaining: ProgressMath.estimatedTimeRemaining(counts, startedAt: row.2, now: now),
                    createdAt: row.3, lastUpdated: row.4)
            }
            throw LectorError.notFound(book: id)
        }
    }

    nonisolated(nonsending) func pages(book id: Int64, offset: Int, limit: Int) async throws -> BookPages {
        try await read { [self] in
            var found: (title: String, total: Int, status: String)?
            for try await row in try await client.query(
                "SELECT title, total_pages, processing_status FROM book WHERE id = \(id)", logger: logger
            ).decode((String, Int, String).self) { found = row }
            guard let book = found else { throw LectorError.notFound(book: id) }
            var pages: [BookPages.Page] = []
            let rows = try await client.query(
                """
                SELECT id, page_number, text_content, audio_path, audio_duration, processing_status, voice, text_source,
                    error, language, ocr_confidence, text_quality, segments, engine
                FROM page WHERE book_id = \(id) ORDER BY page_number LIMIT \(limit) OFFSET \(offset)
                """, logger: logger)
            for try await row in rows.decode(
                (
                    Int64, Int, String, String?, Double?, String, String?, String, String?, String?, Double?, String?,
                    String?, String?
                ).self)
            {
                let status = ProcessingStatus(rawValue: row.5) ?? .pending
                pages.append(
                    BookPages.Page(
                        id: row.0, pageNumber: row.1, textContent: row.2,
                        audioUrl: row.3 == nil ? nil : BookPages.Page.audioPath(book: id, page: row.1),
                        audioDuration: row.3 == nil ? nil : Int((row.4 ?? 0).rounded()),
                        processingStatus: status, voice: row.6, textSource: row.7,
                        error: status == .failed ? (row.8 ?? "failed") : nil,
                        language: row.9, ocrConfidence: row.10, textQuality: row.11,
                        segments: row.12.flatMap {
                            try? JSONDecoder().decode([AudioSegment].self, from: Data($0.utf8))
                        },
                        engine: row.13))
            }
            return BookPages(
                offset: offset, limit: limit,
                book: .init(
                    id: id, title: book.title, totalPages: book.total,
                    processingStatus: ProcessingStatus(rawValue: book.status) ?? .pending),
                pages: pages)
        }
    }

    nonisolated(nonsending) func detail(book id: Int64) async throws -> BookDetail {
        try await read { [self] in
            var found: BookDetail?
            for try await row in try await client.query(
                "SELECT title, author, language, voice, quality, total_pages, processing_status, created_at FROM book WHERE id = \(id)",
                logger: logger
            ).decode((String, String?, String?, String?, String?, Int, String, Date).self) {
                found = BookDetail(
                    id: id, title: row.0, author: row.1, language: row.2, voice: row.3, quality: row.4,
                    totalPages: row.5,
                    processingStatus: ProcessingStatus(rawValue: row.6) ?? .pending, createdAt: row.7, chapters: [])
            }
            guard var detail = found else { throw LectorError.notFound(book: id) }
            detail.chapters = try await chapters(book: id)
            return detail
        }
    }

    nonisolated(nonsending) func chapters(book: Int64) async throws -> [BookChapter] {
        try await read { [self] in
            var chapters: [BookChapter] = []
            for try await (title, page) in try await client.query(
                "SELECT title, page FROM chapter WHERE book_id = \(book) ORDER BY ordinal", logger: logger
            ).decode((String, Int).self) { chapters.append(BookChapter(title: title, page: page)) }
            return chapters
        }
    }

    nonisolated(nonsending) func position(book: Int64) async throws -> ListeningPosition {
        try await read { [self] in
            guard try await bookExists(book) else { throw LectorError.notFound(book: book) }
            for try await (page, seconds, updated) in try await client.query(
                "SELECT page, seconds, updated_at FROM position WHERE book_id = \(book)", logger: logger
            ).decode((Int, Double, Date).self) {
                return ListeningPosition(bookId: book, page: page, seconds: seconds, updatedAt: updated)
            }
            return ListeningPosition(bookId: book, page: 1, seconds: 0, updatedAt: nil)
        }
    }

    nonisolated(nonsending) func savePosition(book: Int64, page: Int, seconds: Double, now: Date) async throws
        -> ListeningPosition
    {
        guard
            let total = try await firstValue(
                client.query("SELECT total_pages FROM book WHERE id = \(book)", logger: logger), Int.self)
        else { throw LectorError.notFound(book: book) }
        guard (1...max(total, 1)).contains(page) else {
            throw LectorError(
                status: 400, code: "invalid_position",
                message: "page must be from 1 to \(total), the pages of book \(book).")
        }
        let duration =
            try await firstValue(
                client.query(
                    """
                    SELECT audio_duration FROM page
                    WHERE book_id = \(book) AND page_number = \(page) AND audio_path IS NOT NULL
                    """, logger: logger), Double?.self) ?? nil
        guard seconds.isFinite, seconds >= 0, seconds <= (duration.map { $0 + 1 } ?? 4 * 3600) else {
            throw LectorError(
                status: 400, code: "invalid_position",
                message:
                    "seconds must be from 0 to the length of page \(page)'s audio\(duration.map { " (\(Int($0.rounded())) s)" } ?? "")."
            )
        }
        // The book may go between the check and the write: its foreign key then refuses the row.
        try await transaction { [self] connection in
            _ = try await connection.query(
                """
                INSERT INTO position (book_id, page, seconds, updated_at) VALUES (\(book), \(page), \(seconds), \(now))
                ON CONFLICT (book_id) DO UPDATE SET page = excluded.page, seconds = excluded.seconds,
                    updated_at = excluded.updated_at
                """, logger: logger)
        }
        return ListeningPosition(bookId: book, page: page, seconds: seconds, updatedAt: now)
    }

    nonisolated(nonsending) func pageStatus(_ key: PageKey) async throws -> String? {
        try await read { [self] in
            try await firstValue(
                client.query(
                    "SELECT processing_status FROM page WHERE book_id = \(key.book) AND page_number = \(key.page)",
                    logger: logger), String.self)
        }
    }

    nonisolated(nonsending) func audioPath(_ key: PageKey) async throws -> String? {
        try await read { [self] in
            try await firstValue(
                client.query(
                    "SELECT audio_path FROM page WHERE book_id = \(key.book) AND page_number = \(key.page)",
                    logger: logger), String?.self) ?? nil
        }
    }

    nonisolated(nonsending) func audioPaths(book: Int64) async throws -> [(page: Int, path: String)]? {
        try await read { [self] in
            let status = try await status(book: book, now: Date())
            guard status.audioReady else { return nil }
            var paths: [(page: Int, path: String)] = []
            for try await (page, path) in try await client.query(
                """
                SELECT page_number, audio_path FROM page WHERE book_id = \(book) AND audio_path IS NOT NULL
                ORDER BY page_number
                """, logger: logger
            ).decode((Int, String).self) { paths.append((page, path)) }
            return paths
        }
    }

    nonisolated(nonsending) func totalDuration(book: Int64) async throws -> Double {
        try await read { [self] in
            try await firstValue(
                client.query(
                    "SELECT COALESCE(SUM(audio_duration), 0)::float8 FROM page WHERE book_id = \(book)", logger: logger),
                Double.self) ?? 0
        }
    }
}
