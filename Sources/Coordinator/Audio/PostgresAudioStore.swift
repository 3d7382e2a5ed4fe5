import Foundation
import Logging
import NIOCore
import PostgresNIO

/// Page audio as rows of the PostgreSQL store: one `audio_blob` per stored MP3 and its bytes in
/// `audio_chunk` rows of 256 KiB, so a range is read by fetching only the chunks it covers. Any
/// coordinator reaching the database serves any page. A reference is `pg:<blob id>`.
///
/// A blob goes with its book (a foreign key), and one no page points at (a crash between
/// `commit` and the page's record, a commit whose answer was lost) is removed by the page's next
/// `commit`, or by `removeOrphans` at the next start. A book's kept
/// PDF (pages to OCR) is a blob of page 0, so the coordinator that takes the book over reads it.
struct PostgresAudioStore: AudioStore {
    static let chunkBytes = 256 << 10
    static let prefix = "pg:"

    /// The book store whose database (and whose lease fence) the audio shares.
    let books: PostgresBookStore
    let localRoot: URL
    var client: PostgresClient { books.client }
    var logger: Logger { books.logger }

    init(books: PostgresBookStore, localDirectory: String) {
        self.books = books
        self.localRoot = URL(fileURLWithPath: localDirectory, isDirectory: true)
    }

    nonisolated(nonsending) func commit(_ pending: PendingAudio) async throws -> String {
        let (book, page) = try Self.owner(of: pending)
        defer { discard(pending) }
        let id = try await insertBlob(from: pending.temporary, bytes: pending.bytes, book: book, page: page)
        return Self.prefix + String(id)
    }

    /// One blob with the file's bytes, in one fenced transaction.
    nonisolated(nonsending) private func insertBlob(from file: URL, bytes total: Int, book: Int64, page: Int)
        async throws -> Int64
    {
        let handle: FileHandle
        do {
            handle = try FileHandle(forReadingFrom: file)
        } catch {
            throw AudioStoreError.write("the file to store cannot be read")
        }
        defer { try? handle.close() }
        let logger = self.logger
        let id: Int64 = try await books.transaction { connection in
            // A blob of this page that no page points at is an earlier attempt's whose commit
            // landed after its caller gave up on it (the session ended, the time ran out).
            try await connection.query(
                """
                DELETE FROM audio_blob b WHERE b.book_id = \(book) AND b.page_number = \(page) AND NOT EXISTS (
                    SELECT 1 FROM page p WHERE p.book_id = b.book_id AND p.page_number = b.page_number
                        AND p.audio_path = 'pg:' || b.id)
                """, logger: logger)
            let rows = try await connection.query(
                """
                INSERT INTO audio_blob (book_id, page_number, total_bytes) VALUES (\(book), \(page), \(total))
                RETURNING id
                """, logger: logger)
            guard let id = try await firstValue(rows, Int64.self) else { throw AudioStoreError.write("no blob id") }
            var ordinal = 0
            var written = 0
            while written < total {
                let data = try handle.read(upToCount: min(Self.chunkBytes, total - written)) ?? Data()
                guard !data.isEmpty else { throw AudioStoreError.write("the temporary file ended early") }
                let chunk = ByteBuffer(bytes: data)
                try await connection.query(
                    "INSERT INTO audio_chunk (blob_id, ordinal, data) VALUES (\(id), \(ordinal), \(chunk))",
                    logger: logger)
                written += data.count
                ordinal += 1
            }
            return id
        }
        return id
    }

    nonisolated(nonsending) func keepSource(_ spooled: URL, book: Int64) async throws {
        let bytes = try FileManager.default.attributesOfItem(atPath: spooled.path)[.size] as? Int ?? 0
        _ = try await insertBlob(from: spooled, bytes: bytes, book: book, page: 0)
        try keepLocalSource(spooled, book: book)
    }

    nonisolated(nonsending) func sourceFile(book: Int64) async throws -> URL? {
        let url = sourceURL(book: book)
        if FileManager.default.fileExists(atPath: url.path) { return url }
        guard
            let id = try await firstValue(
                client.query(
                    "SELECT id FROM audio_blob WHERE book_id = \(book) AND page_number = 0 ORDER BY id LIMIT 1",
                    logger: logger), Int64.self)
        else { return nil }
        // Another coordinator kept it: fetched once into this one's folder.
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try await download(Self.prefix + String(id), to: url)
        return url
    }

    nonisolated(nonsending) func dropSource(book: Int64) async {
        let logger = self.logger
        _ = try? await books.transaction { connection in
            _ = try await connection.query(
                "DELETE FROM audio_blob WHERE book_id = \(book) AND page_number = 0", logger: logger)
        }
        try? FileManager.default.removeItem(at: sourceURL(book: book))
    }

    nonisolated(nonsending) func slice(_ reference: String, offset: Int, length: Int) async throws -> AudioSlice {
        try await books.read { [self] in
            let id = try Self.blob(reference)
            guard
                let total = try await firstValue(
                    client.query("SELECT total_bytes FROM audio_blob WHERE id = \(id)", logger: logger), Int.self)
            else { throw AudioStoreError.write("stored audio \(reference) is missing") }
            let start = min(max(offset, 0), total)
            let count = max(0, min(length, total - start))
            guard count > 0 else { return AudioSlice(totalBytes: total, offset: start, data: Data()) }
            let firstChunk = start / Self.chunkBytes
            let lastChunk = (start + count - 1) / Self.chunkBytes
            var data = Data()
            data.reserveCapacity(count)
            let rows = try await client.query(
                """
                SELECT ordinal, data FROM audio_chunk WHERE blob_id = \(id) AND ordinal BETWEEN \(firstChunk) AND \(lastChunk)
                ORDER BY ordinal
                """, logger: logger)
            var expected = firstChunk
            for try await (ordinal, chunk) in rows.decode((Int, ByteBuffer).self) {
                guard ordinal == expected else { throw AudioStoreError.write("stored audio \(reference) has a gap") }
                expected += 1
                let chunkStart = ordinal * Self.chunkBytes
                let from = max(start - chunkStart, 0)
                let to = min(start + count - chunkStart, chunk.readableBytes)
                guard from < to, let bytes = chunk.getBytes(at: chunk.readerIndex + from, length: to - from) else {
                    throw AudioStoreError.write("stored audio \(reference) is shorter than recorded")
                }
                data.append(contentsOf: bytes)
            }
            guard data.count == count else { throw AudioStoreError.write("stored audio \(reference) is incomplete") }
            return AudioSlice(totalBytes: total, offset: start, data: data)
        }
    }

    nonisolated(nonsending) func remove(_ reference: String) async {
        guard let id = try? Self.blob(reference) else { return }
        let logger = self.logger
        // Only if no page records it: a completion whose commit reached the database just as the
        // connection dropped looks failed to the coordinator, but its page does point here.
        _ = try? await books.transaction { connection in
            _ = try await connection.query(
                """
                DELETE FROM audio_blob b WHERE b.id = \(id) AND NOT EXISTS (
                    SELECT 1 FROM page p WHERE p.book_id = b.book_id AND p.page_number = b.page_number
                        AND p.audio_path = \(reference))
                """, logger: logger)
        }
    }

    nonisolated(nonsending) func removeBook(_ book: Int64) async {
        // The rows go with the book (its foreign key); what is left is this machine's files: the
        // cached copies of its pages and its folder of derived files.
        let logger = self.logger
        if let rows = try? await client.query("SELECT id FROM audio_blob WHERE book_id = \(book)", logger: logger) {
            var ids: [Int64] = []
            do {
                for try await id in rows.decode(Int64.self) { ids.append(id) }
            } catch {}
            for id in ids { try? FileManager.default.removeItem(at: cacheURL(blob: id)) }
        }
        _ = try? await books.transaction { connection in
            _ = try await connection.query("DELETE FROM audio_blob WHERE book_id = \(book)", logger: logger)
        }
        try? FileManager.default.removeItem(at: localRoot.appendingPathComponent("books/\(book)", isDirectory: true))
    }

    nonisolated(nonsending) func localFile(_ reference: String) async throws -> URL {
        let url = cacheURL(blob: try Self.blob(reference))
        let folder = url.deletingLastPathComponent()
        if FileManager.default.fileExists(atPath: url.path) { return url }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try await download(reference, to: url)
        return url
    }

    /// This coordinator's copy of a stored audio, for tools that read files.
    func cacheURL(blob id: Int64) -> URL {
        localRoot.appendingPathComponent("cache/\(id).mp3")
    }

    /// The blob's bytes into `url`, through a temporary file renamed at the end.
    nonisolated(nonsending) private func download(_ reference: String, to url: URL) async throws {
        let folder = url.deletingLastPathComponent()
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw AudioStoreError.write("cannot create a file in the audio cache")
        }
        let handle = try FileHandle(forWritingTo: temporary)
        do {
            var offset = 0
            while true {
                let piece = try await slice(reference, offset: offset, length: 4 << 20)
                try handle.write(contentsOf: piece.data)
                offset += piece.data.count
                if piece.data.isEmpty || offset >= piece.totalBytes { break }
            }
            try handle.close()
            guard rename(temporary.path, url.path) == 0 else { throw AudioStoreError.write("rename failed") }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    nonisolated(nonsending) func removeOrphans() async throws -> Int {
        // Called when a coordinator starts, before it commits anything: a blob no page points at
        // then was left by one that died between `commit` and the page's record (or by one
        // deposed then: its writes all committed before this coordinator's lease was granted).
        // Kept PDFs (page 0) go with their book. The local copies are only a cache: gone too.
        try? FileManager.default.removeItem(at: localRoot.appendingPathComponent("cache", isDirectory: true))
        let logger = self.logger
        return try await books.transaction { connection in
            let rows = try await connection.query(
                """
                DELETE FROM audio_blob b WHERE b.page_number > 0 AND NOT EXISTS (SELECT 1 FROM page p WHERE p.book_id = b.book_id AND p.page_number = b.page_number
                        AND p.audio_path = 'pg:' || b.id)
                RETURNING b.id
                """, logger: logger)
            var removed = 0
            for try await _ in rows { removed += 1 }
            return removed
        }
    }

    /// The book and page a write is for, from its relative path (`books/3/page_0001.mp3`).
    private static func owner(of pending: PendingAudio) throws -> (Int64, Int) {
        let parts = pending.relativePath.split(separator: "/")
        guard parts.count == 3, let book = Int64(parts[1]),
            let page = Int(parts[2].dropFirst("page_".count).prefix(while: \.isNumber))
        else { throw AudioStoreError.write("an unexpected audio path") }
        return (book, page)
    }

    private static func blob(_ reference: String) throws -> Int64 {
        guard reference.hasPrefix(prefix), let id = Int64(reference.dropFirst(prefix.count)), id > 0 else {
            throw AudioStoreError.write("not a database audio reference")
        }
        return id
    }
}
