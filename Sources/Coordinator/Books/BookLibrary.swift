import Foundation

/// The book side's state that lives between calls: uploads being spooled, PDFs kept open for
/// their pages' OCR, and whole-book joins under way. The database and the audio folder hold the
/// rest; this type owns only what would otherwise be loose dictionaries on the coordinator.
struct BookLibrary {
    /// Uploads open at once; more get 503 (a gateway that leaks them cannot fill the disk).
    static let maxOpenUploads = 64
    /// Open PDFs kept for OCR; the oldest is closed beyond this.
    static let maxOpenSources = 8
    /// An upload with no data for this long is dropped.
    static let abandonedAfter: Duration = .seconds(600)

    let uploadDirectory: URL
    private(set) var uploads: [String: UploadSpool] = [:]
    private var sources: [Int64: PDFTextDocument] = [:]
    private var sourceOrder: [Int64] = []
    /// Whole-book MP3s being joined, so two requests build once.
    var bookAudioBuilds: [Int64: Task<Void, any Error>] = [:]

    init(uploadDirectory: URL) {
        self.uploadDirectory = uploadDirectory
    }

    /// Opens a spool; drops abandoned ones first. Returns their ids too, for the log.
    mutating func beginUpload(now: ContinuousClock.Instant = .now) throws -> (spool: UploadSpool, dropped: [String]) {
        let dropped = pruneAbandoned(now: now)
        guard uploads.count < Self.maxOpenUploads else {
            throw LectorError(
                status: 503, code: "too_many_uploads",
                message: "\(Self.maxOpenUploads) uploads are in progress; try again in a moment.")
        }
        let spool = try UploadSpool(directory: uploadDirectory)
        uploads[spool.id] = spool
        return (spool, dropped)
    }

    func spool(_ id: String) throws -> UploadSpool {
        guard let spool = uploads[id] else {
            throw LectorError(
                status: 410, code: "upload_gone", message: "This upload is no longer open; send the file again.")
        }
        return spool
    }

    /// Uploads being turned into books, and those whose gateway gave up meanwhile.
    private var finishing: Set<String> = []
    private var cancelled: Set<String> = []

    /// Hands the spool over to the caller, which finishes (and deletes) it, calling `finished`
    /// before it creates anything.
    mutating func take(_ id: String) throws -> UploadSpool {
        let spool = try spool(id)
        uploads[id] = nil
        finishing.insert(id)
        return spool
    }

    /// Whether the upload may still become a book: false when its gateway aborted it while the
    /// text was being extracted (its client was told it failed, so no book may appear).
    mutating func finished(_ id: String) -> Bool {
        finishing.remove(id)
        return cancelled.remove(id) == nil
    }

    mutating func discard(_ id: String) {
        if finishing.contains(id) { cancelled.insert(id) }
        uploads.removeValue(forKey: id)?.discard()
    }

    mutating func pruneAbandoned(now: ContinuousClock.Instant) -> [String] {
        let cutoff = now - Self.abandonedAfter
        let stale = uploads.filter { $0.value.lastActivity < cutoff }.map(\.key)
        for id in stale { discard(id) }
        return stale
    }

    // MARK: Kept PDFs

    /// The open PDF of a book, opened with `open` the first time.
    mutating func source(book: Int64, open: () throws -> PDFTextDocument) rethrows -> PDFTextDocument {
        if let document = sources[book] { return document }
        let document = try open()
        if sources.count >= Self.maxOpenSources, let oldest = sourceOrder.first {
            sourceOrder.removeFirst()
            sources[oldest] = nil
        }
        sources[book] = document
        sourceOrder.append(book)
        return document
    }

    mutating func closeSource(book: Int64) {
        sources[book] = nil
        sourceOrder.removeAll { $0 == book }
    }

    var openSources: Int { sources.count }
}
