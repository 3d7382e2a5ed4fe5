import Foundation

/// Where page audio is kept once a page is voiced: `FileAudioStore` (files beside one
/// coordinator) or `PostgresAudioStore` (chunks in the database every coordinator reaches). A
/// move to an object store is one more conforming type.
///
/// Both write a page's audio to a local temporary file first (it is read while it grows, by
/// listeners of a page being voiced) and `commit` it when the worker has finished. A reference
/// (`audio_path` in the book store) names the stored audio.
protocol AudioStore: Sendable {
    /// This coordinator's own folder: temporary writes, kept PDFs and files made from stored
    /// audio (a whole book's MP3 and M4B), which any coordinator can make again.
    var localRoot: URL { get }
    /// Stores a finished write for good; returns its reference.
    nonisolated(nonsending) func commit(_ pending: PendingAudio) async throws -> String
    nonisolated(nonsending) func slice(_ reference: String, offset: Int, length: Int) async throws -> AudioSlice
    /// Deletes one stored audio (its page was not recorded after all).
    nonisolated(nonsending) func remove(_ reference: String) async
    nonisolated(nonsending) func removeBook(_ book: Int64) async
    /// A file with the audio, for tools that read files (the whole-book join).
    nonisolated(nonsending) func localFile(_ reference: String) async throws -> URL
    /// Deletes stored audio no page refers to (a crash between `commit` and the page's record);
    /// returns how many.
    nonisolated(nonsending) func removeOrphans() async throws -> Int
    /// Keeps a book's PDF while it has pages to OCR (moving the spooled upload), where every
    /// coordinator that may take the book over finds it.
    nonisolated(nonsending) func keepSource(_ spooled: URL, book: Int64) async throws
    /// The kept PDF as a local file, fetched first if this coordinator does not have it; nil
    /// when none is kept.
    nonisolated(nonsending) func sourceFile(book: Int64) async throws -> URL?
    /// The book needs its PDF no more.
    nonisolated(nonsending) func dropSource(book: Int64) async
}

extension AudioStore {
    /// A page's MP3 being written under a temporary name in its book's folder (swept at start if
    /// a crash leaves it).
    func beginWrite(book: Int64, page: Int) throws -> PendingAudio {
        let relative = FileAudioStore.relativePath(book: book, page: page)
        let destination = localRoot.appendingPathComponent(relative)
        let folder = destination.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            // Foundation's message names the path; the page's error must not.
            throw AudioStoreError.write("the book's audio folder cannot be created")
        }
        let temporary = folder.appendingPathComponent(".\(destination.lastPathComponent).\(UUID().uuidString).tmp")
        return PendingAudio(temporary: temporary, destination: destination, relativePath: relative)
    }

    func discard(_ pending: PendingAudio) {
        pending.close()
        try? FileManager.default.removeItem(at: pending.temporary)
    }

    /// Deletes temporary files of writes a crash interrupted (their pages were never marked
    /// completed, so they will be voiced again); returns how many.
    @discardableResult
    func removeInterruptedWrites() -> Int {
        guard let files = FileManager.default.enumerator(at: localRoot, includingPropertiesForKeys: nil) else {
            return 0
        }
        var removed = 0
        for case let url as URL in files where url.lastPathComponent.hasPrefix(".") && url.pathExtension == "tmp" {
            if (try? FileManager.default.removeItem(at: url)) != nil { removed += 1 }
        }
        // Folders a whole-book join was writing when the process died.
        for case let url as URL in FileManager.default.enumerator(at: localRoot, includingPropertiesForKeys: nil)
            ?? .init()
        where url.lastPathComponent.hasPrefix(BookAudioBuilder.workFolderPrefix) {
            if (try? FileManager.default.removeItem(at: url)) != nil { removed += 1 }
        }
        return removed
    }

    /// Where a book's PDF is kept while it has pages to OCR: next to its audio, so deleting the
    /// book removes it too.
    func sourceURL(book: Int64) -> URL {
        localRoot.appendingPathComponent("books/\(book)/source.pdf")
    }

    /// Moves the spooled upload into the book's folder.
    func keepLocalSource(_ spooled: URL, book: Int64) throws {
        let destination = sourceURL(book: book)
        try FileManager.default.createDirectory(
            at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: destination)
        try FileManager.default.moveItem(at: spooled, to: destination)
    }

    /// A file under `localRoot`, by its relative path.
    func localURL(_ relativePath: String) -> URL {
        localRoot.appendingPathComponent(relativePath)
    }
}

/// Reading and syncing local files, for either store.
enum AudioFiles {
    /// Up to `length` bytes of a file from `offset`, and the file's size.
    static func sliceFile(_ url: URL, offset: Int, length: Int) throws -> AudioSlice {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let total = Int(try handle.seekToEnd())
        let start = min(max(offset, 0), total)
        try handle.seek(toOffset: UInt64(start))
        let data = try handle.read(upToCount: max(0, min(length, total - start))) ?? Data()
        return AudioSlice(totalBytes: total, offset: start, data: data)
    }

    static func fsyncFolder(_ folder: URL) throws {
        let descriptor = open(folder.path, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { throw AudioStoreError.write("cannot open \(folder.lastPathComponent) to sync it") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw AudioStoreError.write("fsync of the audio folder failed") }
    }

}
