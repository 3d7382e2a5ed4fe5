import Logging
import PostgresNIO

/// The PostgreSQL schema, as numbered steps recorded in `schema_version`. Step 1 is SQLite's
/// migrations v1–v6 at once (the two stores hold the same rows); later changes are new steps in
/// both stores. Each step runs in one transaction under an advisory lock, so coordinators starting
/// together do not migrate twice.
enum PostgresSchema {
    static let steps: [String] = [
        """
        CREATE TABLE book (
            id BIGSERIAL PRIMARY KEY,
            title TEXT NOT NULL, author TEXT, language TEXT, voice TEXT, quality TEXT,
            total_pages BIGINT NOT NULL,
            processing_status TEXT NOT NULL, processing_progress BIGINT NOT NULL DEFAULT 0,
            created_at TIMESTAMPTZ NOT NULL, updated_at TIMESTAMPTZ NOT NULL,
            processing_started_at TIMESTAMPTZ, completed_at TIMESTAMPTZ);
        CREATE TABLE page (
            id BIGSERIAL PRIMARY KEY,
            book_id BIGINT NOT NULL REFERENCES book(id) ON DELETE CASCADE,
            page_number BIGINT NOT NULL,
            text_content TEXT NOT NULL, text_source TEXT NOT NULL DEFAULT 'pdf',
            processing_status TEXT NOT NULL,
            audio_path TEXT, audio_duration DOUBLE PRECISION, voice TEXT, error TEXT,
            attempts BIGINT NOT NULL DEFAULT 0, worker TEXT,
            started_at TIMESTAMPTZ, completed_at TIMESTAMPTZ,
            losses BIGINT NOT NULL DEFAULT 0, rendering BOOLEAN NOT NULL DEFAULT FALSE,
            language TEXT, ocr_confidence DOUBLE PRECISION, text_quality TEXT,
            check_with_ocr BOOLEAN NOT NULL DEFAULT FALSE,
            segments TEXT, engine TEXT,
            UNIQUE (book_id, page_number));
        CREATE INDEX page_on_book_status ON page (book_id, processing_status);
        CREATE INDEX page_pending ON page (book_id, page_number) WHERE processing_status = 'pending';
        CREATE TABLE book_counts (
            book_id BIGINT PRIMARY KEY REFERENCES book(id) ON DELETE CASCADE,
            pending BIGINT NOT NULL DEFAULT 0, processing BIGINT NOT NULL DEFAULT 0,
            completed BIGINT NOT NULL DEFAULT 0, failed BIGINT NOT NULL DEFAULT 0,
            with_audio BIGINT NOT NULL DEFAULT 0);
        CREATE FUNCTION page_counts() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP <> 'INSERT' THEN
                UPDATE book_counts SET
                    pending = pending - (OLD.processing_status = 'pending')::int,
                    processing = processing - (OLD.processing_status = 'processing')::int,
                    completed = completed - (OLD.processing_status = 'completed')::int,
                    failed = failed - (OLD.processing_status = 'failed')::int,
                    with_audio = with_audio - (OLD.audio_path IS NOT NULL)::int
                WHERE book_id = OLD.book_id;
            END IF;
            IF TG_OP <> 'DELETE' THEN
                INSERT INTO book_counts (book_id) VALUES (NEW.book_id) ON CONFLICT DO NOTHING;
                UPDATE book_counts SET
                    pending = pending + (NEW.processing_status = 'pending')::int,
                    processing = processing + (NEW.processing_status = 'processing')::int,
                    completed = completed + (NEW.processing_status = 'completed')::int,
                    failed = failed + (NEW.processing_status = 'failed')::int,
                    with_audio = with_audio + (NEW.audio_path IS NOT NULL)::int
                WHERE book_id = NEW.book_id;
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER page_counts AFTER INSERT OR DELETE OR UPDATE OF processing_status, audio_path ON page
            FOR EACH ROW EXECUTE FUNCTION page_counts();
        CREATE TABLE meta (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
        CREATE TABLE chapter (
            book_id BIGINT NOT NULL REFERENCES book(id) ON DELETE CASCADE,
            ordinal BIGINT NOT NULL, title TEXT NOT NULL, page BIGINT NOT NULL,
            PRIMARY KEY (book_id, ordinal));
        CREATE TABLE position (
            book_id BIGINT PRIMARY KEY REFERENCES book(id) ON DELETE CASCADE,
            page BIGINT NOT NULL, seconds DOUBLE PRECISION NOT NULL, updated_at TIMESTAMPTZ NOT NULL);
        CREATE TABLE audio_blob (
            id BIGSERIAL PRIMARY KEY,
            book_id BIGINT NOT NULL REFERENCES book(id) ON DELETE CASCADE, page_number BIGINT NOT NULL,
            total_bytes BIGINT NOT NULL, created_at TIMESTAMPTZ NOT NULL DEFAULT now());
        CREATE INDEX audio_blob_on_book ON audio_blob (book_id);
        CREATE TABLE audio_chunk (
            blob_id BIGINT NOT NULL REFERENCES audio_blob(id) ON DELETE CASCADE,
            ordinal BIGINT NOT NULL, data BYTEA NOT NULL,
            PRIMARY KEY (blob_id, ordinal));
        """,
        // The active coordinator's lease (`PostgresBookStore+Lease.swift`): one row.
        """
        CREATE TABLE coordinator_lease (
            id BIGINT PRIMARY KEY CHECK (id = 1),
            holder TEXT NOT NULL, epoch BIGINT NOT NULL, expires_at TIMESTAMPTZ NOT NULL);
        """,
        // A page's blobs found at once: a blob's commit clears the page's unreferenced ones.
        """
        CREATE INDEX audio_blob_on_page ON audio_blob (book_id, page_number);
        DROP INDEX audio_blob_on_book;
        """,
    ]

    /// A step's statements: split at each `;` that ends a line outside a `$$` body (the
    /// extended protocol takes one statement at a time).
    static func statements(of step: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var inBody = false
        for line in step.split(separator: "\n", omittingEmptySubsequences: false) {
            current += line + "\n"
            if line.components(separatedBy: "$$").count % 2 == 0 { inBody.toggle() }
            if !inBody, line.hasSuffix(";") {
                statements.append(current)
                current = ""
            }
        }
        if !current.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { statements.append(current) }
        return statements
    }

    /// Brings the database to the last step.
    static func migrate(_ client: PostgresClient, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            // One migrator at a time; the lock ends with the transaction.
            try await connection.query("SELECT pg_advisory_xact_lock(7361902)", logger: logger)
            try await connection.query(
                "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)", logger: logger)
            var version = 0
            for try await (value) in try await connection.query(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version", logger: logger
            ).decode(Int.self) {
                version = value
            }
            for (index, step) in steps.enumerated() where index + 1 > version {
                for statement in statements(of: step) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO schema_version (version) VALUES (\(index + 1))", logger: logger)
                logger.info("[STORE] PostgreSQL schema at version \(index + 1)")
            }
        }
    }
}
