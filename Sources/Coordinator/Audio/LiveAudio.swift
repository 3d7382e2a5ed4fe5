import Foundation

/// The audio of pages still being voiced, readable while it grows: what lets a listener press play
/// on a page that is `processing`.
///
/// Each entry is one attempt's temporary file, named by the attempt's lease. A listener is handed
/// that name with its first bytes and shows it on every later read, so it never gets bytes of two
/// attempts spliced together: when its attempt fails, its next read fails too.
struct LiveAudio {
    struct Entry {
        let attempt: UUID
        let file: PendingAudio
        /// Every byte has arrived (the file waits to be renamed into place).
        var complete = false
        /// Some listener has read the start of the file, so the start may no longer change (the
        /// placeholder tag stays rather than be replaced by the final one).
        var startServed = false
    }

    /// The first frame, the one replaced at the end, is well inside this many bytes.
    static let startBytes = 4096

    private(set) var entries: [PageKey: Entry] = [:]
    /// For each page listened to while it was made, the attempt its file came from: a listener
    /// that began on it may read on from the final file.
    private var finished: [PageKey: UUID] = [:]

    /// A new attempt of the page starts writing; an earlier attempt's file, if any, is returned
    /// for the caller to remove.
    mutating func begin(_ key: PageKey, attempt: UUID, file: PendingAudio) -> PendingAudio? {
        let old = entries[key]?.file
        entries[key] = Entry(attempt: attempt, file: file)
        finished[key] = nil
        return old
    }

    func entry(_ key: PageKey, attempt: UUID) -> Entry? {
        guard let entry = entries[key], entry.attempt == attempt else { return nil }
        return entry
    }

    mutating func markComplete(_ key: PageKey, attempt: UUID) {
        guard entries[key]?.attempt == attempt else { return }
        entries[key]?.complete = true
    }

    mutating func markServed(_ key: PageKey, offset: Int) {
        if offset < Self.startBytes { entries[key]?.startServed = true }
    }

    /// The attempt's file became the page's audio (`completed`) or was dropped; nil when the
    /// attempt is not the current one.
    @discardableResult
    mutating func end(_ key: PageKey, attempt: UUID, completed: Bool) -> PendingAudio? {
        guard let entry = entries[key], entry.attempt == attempt else { return nil }
        entries[key] = nil
        // Only pages someone listened to while they were made need remembering.
        if completed && entry.startServed { finished[key] = attempt }
        return entry.file
    }

    func finishedAttempt(_ key: PageKey) -> UUID? { finished[key] }

    mutating func forget(book: Int64) {
        entries = entries.filter { $0.key.book != book }
        finished = finished.filter { $0.key.book != book }
    }
}
