import Foundation

/// One temporary audio file, created with its first bytes: a page with no audio (no speakable
/// text) costs no file. Written from one task at a time (the dispatch task that reads the
/// worker's pieces), so its handle needs no lock of its own.
final class PendingAudio: @unchecked Sendable {
    // @unchecked: `handle` and `closed` are used by the single task that owns this write, then
    // closed; no lock.
    let temporary: URL
    let destination: URL
    let relativePath: String
    private var handle: FileHandle?
    private var closed = false
    private(set) var bytes = 0

    init(temporary: URL, destination: URL, relativePath: String) {
        self.temporary = temporary
        self.destination = destination
        self.relativePath = relativePath
    }

    /// The open file, created at the first write.
    private func file() throws -> FileHandle {
        if let handle { return handle }
        guard !closed else { throw AudioStoreError.write("the file is closed") }
        guard FileManager.default.createFile(atPath: temporary.path, contents: nil) else {
            throw AudioStoreError.write("cannot create a file in the book's audio folder")
        }
        do {
            let opened = try FileHandle(forWritingTo: temporary)
            handle = opened
            return opened
        } catch {
            throw AudioStoreError.write("cannot open a file in the book's audio folder")
        }
    }

    func append(_ data: Data) throws {
        let handle = try file()
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
        guard bytes > 0 else { return Data() }
        let reader = try FileHandle(forReadingFrom: temporary)
        defer { try? reader.close() }
        let start = min(max(offset, 0), bytes)
        try reader.seek(toOffset: UInt64(start))
        return try reader.read(upToCount: max(0, min(length, bytes - start))) ?? Data()
    }

    /// Flushes the bytes to disk and closes the file.
    func finish() throws {
        guard let handle else {
            closed = true
            return
        }
        self.handle = nil
        closed = true
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
        closed = true
    }
}
