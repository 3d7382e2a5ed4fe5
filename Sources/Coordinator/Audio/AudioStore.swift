import Foundation

/// Page MP3s on disk, under `<audio_dir>/books/<id>/page_0001.mp3`.
///
/// A file is written to a temporary name and renamed into place, so a reader (or a crash) never
/// sees half an MP3; the page is marked completed only after the rename.
struct AudioStore: Sendable {
    let root: URL

    init(directory: String) {
        root = URL(fileURLWithPath: directory, isDirectory: true)
    }

    static func relativePath(book: Int64, page: Int) -> String {
        "books/\(book)/" + BookPages.Page.audioFileName(page: page)
    }

    func url(for relativePath: String) -> URL {
        root.appendingPathComponent(relativePath)
    }

    /// Stores the audio and returns its path relative to the audio folder.
    func store(_ data: Data, book: Int64, page: Int) throws -> String {
        let pending = try beginWrite(book: book, page: page)
        do {
            try pending.append(data)
            try pending.finish()
            return try commit(pending)
        } catch {
            discard(pending)
            throw error
        }
    }

    /// A page's MP3 being written under a temporary name in its book's folder (swept at start if
    /// a crash leaves it).
    func beginWrite(book: Int64, page: Int) throws -> PendingAudio {
        let relative = Self.relativePath(book: book, page: page)
        let destination = url(for: relative)
        let folder = destination.deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            // Foundation's message names the path; the page's error must not.
            throw AudioStoreError.write("the book's audio folder cannot be created")
        }
        let temporary = folder.appendingPathComponent(".\(destination.lastPathComponent).\(UUID().uuidString).tmp")
        return try PendingAudio(temporary: temporary, destination: destination, relativePath: relative)
    }

    /// Renames a finished write into place and makes the rename durable (the folder is fsynced), so
    /// a page marked completed after this never points at a file a power cut took back.
    func commit(_ pending: PendingAudio) throws -> String {
        guard rename(pending.temporary.path, pending.destination.path) == 0 else {
            let code = errno
            discard(pending)
            throw AudioStoreError.write("rename failed: \(String(cString: strerror(code)))")
        }
        try Self.fsyncFolder(pending.destination.deletingLastPathComponent())
        return pending.relativePath
    }

    func discard(_ pending: PendingAudio) {
        pending.close()
        try? FileManager.default.removeItem(at: pending.temporary)
    }

    static func fsyncFolder(_ folder: URL) throws {
        let descriptor = open(folder.path, O_RDONLY | O_DIRECTORY)
        guard descriptor >= 0 else { throw AudioStoreError.write("cannot open \(folder.lastPathComponent) to sync it") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw AudioStoreError.write("fsync of the audio folder failed") }
    }

    func slice(_ relativePath: String, offset: Int, length: Int) throws -> AudioSlice {
        let handle = try FileHandle(forReadingFrom: url(for: relativePath))
        defer { try? handle.close() }
        let total = Int(try handle.seekToEnd())
        let start = min(max(offset, 0), total)
        try handle.seek(toOffset: UInt64(start))
        let data = try handle.read(upToCount: max(0, min(length, total - start))) ?? Data()
        return AudioSlice(totalBytes: total, offset: start, data: data)
    }

    /// Deletes temporary files of writes a crash interrupted (their pages were never marked
    /// completed, so they will be voiced again); returns how many.
    @discardableResult
    func removeInterruptedWrites() -> Int {
        guard let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return 0 }
        var removed = 0
        for case let url as URL in files where url.lastPathComponent.hasPrefix(".") && url.pathExtension == "tmp" {
            if (try? FileManager.default.removeItem(at: url)) != nil { removed += 1 }
        }
        // Folders a whole-book join was writing when the process died.
        for case let url as URL in FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) ?? .init()
        where url.lastPathComponent.hasPrefix(BookAudioBuilder.workFolderPrefix) {
            if (try? FileManager.default.removeItem(at: url)) != nil { removed += 1 }
        }
        return removed
    }

    /// Where a book's PDF is kept while it has pages to OCR: next to its audio, so deleting the
    /// book removes it too.
    func sourceURL(book: Int64) -> URL {
        root.appendingPathComponent("books/\(book)/source.pdf")
    }

    /// Moves the spooled upload into the book's folder.
    func keepSource(_ spooled: URL, book: Int64) throws {
        let destination = sourceURL(book: book)
        try FileManager.default.createDirectory(
            at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
        try? FileManager.default.removeItem(at: destination)
        try FileManager.default.moveItem(at: spooled, to: destination)
    }

    func removeBook(_ book: Int64) {
        try? FileManager.default.removeItem(
            at: root.appendingPathComponent("books/\(book)", isDirectory: true))
    }
}

/// Why audio could not be written; the page goes back to the queue with backoff.
enum AudioStoreError: Error, CustomStringConvertible {
    case write(String)

    var description: String {
        switch self {
        case .write(let detail): "the audio could not be stored: \(detail)"
        }
    }
}

/// One open temporary audio file. Written from one task at a time (the dispatch task that reads
/// the worker's pieces), so its handle needs no lock of its own.
final class PendingAudio: @unchecked Sendable {
    // @unchecked: `handle` is used by the single task that owns this write, then closed; no lock.
    let temporary: URL
    let destination: URL
    let relativePath: String
    private var handle: FileHandle?
    private(set) var bytes = 0

    init(temporary: URL, destination: URL, relativePath: String) throws {
        self.temporary = temporary
        self.destination = destination
        self.relativePath = relativePath
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw AudioStoreError.write("cannot create a file in the book's audio folder")
        }
        do {
            handle = try FileHandle(forWritingTo: temporary)
        } catch {
            throw AudioStoreError.write("cannot open a file in the book's audio folder")
        }
    }

    func append(_ data: Data) throws {
        guard let handle else { throw AudioStoreError.write("the file is closed") }
        do {
            try handle.write(contentsOf: data)
        } catch {
            throw AudioStoreError.write("writing failed (\((error as NSError).localizedDescription))")
        }
        bytes += data.count
    }

    /// Replaces bytes already written (the stream's first frame, once its final tag is known).
    func overwrite(at offset: Int, with data: Data) throws {
        guard let handle else { throw AudioStoreError.write("the file is closed") }
        guard offset >= 0, offset + data.count <= bytes else { throw AudioStoreError.write("overwrite past the end") }
        do {
            try handle.seek(toOffset: UInt64(offset))
            try handle.write(contentsOf: data)
            try handle.seekToEnd()
        } catch {
            throw AudioStoreError.write("writing failed (\((error as NSError).localizedDescription))")
        }
    }

    /// Bytes written so far, read back for a listener while the file is still being written.
    func read(offset: Int, length: Int) throws -> Data {
        let reader = try FileHandle(forReadingFrom: temporary)
        defer { try? reader.close() }
        let start = min(max(offset, 0), bytes)
        try reader.seek(toOffset: UInt64(start))
        return try reader.read(upToCount: max(0, min(length, bytes - start))) ?? Data()
    }

    /// Flushes the bytes to disk and closes the file.
    func finish() throws {
        guard let handle else { return }
        self.handle = nil
        defer { try? handle.close() }
        do {
            try handle.synchronize()
        } catch {
            throw AudioStoreError.write("fsync failed")
        }
    }

    func close() {
        try? handle?.close()
        handle = nil
    }
}
