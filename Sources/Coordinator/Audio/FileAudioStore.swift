import Foundation

/// Page MP3s on disk, under `<audio_dir>/books/<id>/page_0001.mp3`: the store beside SQLite.
///
/// A file is written to a temporary name and renamed into place, so a reader (or a crash) never
/// sees half an MP3; the page is marked completed only after the rename.
struct FileAudioStore: AudioStore {
    let root: URL
    var localRoot: URL { root }

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

    /// Renames a finished write into place and makes the rename durable (the folder is fsynced), so
    /// a page marked completed after this never points at a file a power cut took back.
    func commit(_ pending: PendingAudio) throws -> String {
        guard rename(pending.temporary.path, pending.destination.path) == 0 else {
            let code = errno
            discard(pending)
            throw AudioStoreError.write("rename failed: \(String(cString: strerror(code)))")
        }
        try AudioFiles.fsyncFolder(pending.destination.deletingLastPathComponent())
        return pending.relativePath
    }

    func slice(_ relativePath: String, offset: Int, length: Int) throws -> AudioSlice {
        try AudioFiles.sliceFile(url(for: relativePath), offset: offset, length: length)
    }

    func remove(_ relativePath: String) {
        try? FileManager.default.removeItem(at: url(for: relativePath))
    }

    func localFile(_ relativePath: String) -> URL { url(for: relativePath) }

    /// Every stored file is a page's (or a whole book's) by its path: nothing can be orphaned
    /// but interrupted writes, which `removeInterruptedWrites` takes.
    func removeOrphans() -> Int { 0 }

    func removeBook(_ book: Int64) {
        try? FileManager.default.removeItem(
            at: root.appendingPathComponent("books/\(book)", isDirectory: true))
    }

    nonisolated(nonsending) func keepSource(_ spooled: URL, book: Int64) async throws {
        try keepLocalSource(spooled, book: book)
    }

    nonisolated(nonsending) func sourceFile(book: Int64) async throws -> URL? {
        let url = sourceURL(book: book)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    nonisolated(nonsending) func dropSource(book: Int64) async {
        try? FileManager.default.removeItem(at: sourceURL(book: book))
    }
}
