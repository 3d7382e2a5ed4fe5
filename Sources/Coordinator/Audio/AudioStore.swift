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
        let relative = Self.relativePath(book: book, page: page)
        let destination = url(for: relative)
        let folder = destination.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(
            ".\(destination.lastPathComponent).\(UUID().uuidString).tmp")
        try data.write(to: temporary)
        if rename(temporary.path, destination.path) != 0 {
            let code = errno
            try? FileManager.default.removeItem(at: temporary)
            throw CocoaError(
                .fileWriteUnknown,
                userInfo: [NSLocalizedDescriptionKey: "rename failed: \(String(cString: strerror(code)))"])
        }
        return relative
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
