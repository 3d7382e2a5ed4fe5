import CPoppler
import Foundation

/// Which poppler page index holds each page number of a document whose page tree may be broken.
///
/// Poppler (22.12) skips a page-tree entry it cannot read ("Kid object (page N) is wrong type")
/// and gives the next good page that number: with page 7's object overwritten, page 7 returns
/// page 8's text and page 8 returns NULL. Trusting poppler's indexes would voice the wrong page
/// under the right number, silently. The only place poppler says where it skipped is its log, so
/// the page tree is walked once at open with the log captured, and the skipped pages become holes.
enum PDFPageTree {
    /// Poppler's index for each declared page (slot 0 is page 1), nil for a page that is missing.
    /// Call before the document is shared: it walks the tree through poppler.
    static func indexMap(of document: OpaquePointer, declaredPages: Int) -> [Int32?] {
        // A linearized file may serve pages from its hint tables without walking the tree, so
        // there every page is asked for; elsewhere asking for the last one walks the whole tree.
        let linearized = poppler_document_is_linearized(document) != 0
        let (lastIsThere, messages) = PopplerLog.collect {
            for index in (linearized ? 0 : declaredPages - 1)..<declaredPages {
                guard let page = poppler_document_get_page(document, Int32(index)) else { return false }
                g_object_unref(UnsafeMutableRawPointer(page))
            }
            return true
        }
        let skippedKids = messages.compactMap(skippedKidPage(in:))
        let sawLoop = messages.contains { $0.contains("Loop in Pages tree") }
        if lastIsThere && skippedKids.isEmpty && !sawLoop { return (0..<declaredPages).map { Int32($0) } }
        // Poppler caches the tree's pages in order, so the reachable ones are a prefix of its indexes.
        var reachable = 0
        while reachable < declaredPages, let page = poppler_document_get_page(document, Int32(reachable)) {
            g_object_unref(UnsafeMutableRawPointer(page))
            reachable += 1
        }
        return indexMap(declared: declaredPages, reachable: reachable, skippedKids: skippedKids, sawLoop: sawLoop)
    }

    /// The page number in poppler's "Kid object (page N) is wrong type" message: the number the
    /// broken entry would have had, counting only the good pages before it.
    static func skippedKidPage(in message: String) -> Int? {
        guard message.contains("is wrong type"), let start = message.range(of: "Kid object (page ")
        else { return nil }
        return Int(message[start.upperBound...].prefix { $0.isNumber })
    }

    /// The map from what poppler reported. Each skipped entry shifts every later page down by one,
    /// so skip `j` (0-based, in walk order) reported as page `r` is page `r + j` of the document.
    /// When the skips do not explain the missing pages exactly (a skipped entry that held a subtree
    /// of pages, a loop in the tree, a page count that disagrees with the tree), later pages cannot
    /// be placed, and only the pages before the first skip are trusted: an unreadable page is
    /// better than a page read under another page's number.
    static func indexMap(declared: Int, reachable: Int, skippedKids: [Int], sawLoop: Bool) -> [Int32?] {
        let missing = declared - reachable
        if missing == 0 && skippedKids.isEmpty && !sawLoop { return (0..<declared).map { Int32($0) } }
        let holes = skippedKids.enumerated().map { $0.element + $0.offset }
        let located = !sawLoop && holes.count == missing
        let firstUntrusted = sawLoop ? 1 : (holes.first ?? reachable + 1)
        var map: [Int32?] = []
        map.reserveCapacity(declared)
        var skippedSoFar = 0
        for page in 1...declared {
            if holes.contains(page) { skippedSoFar += 1 }
            let index = page - 1 - skippedSoFar
            let usable = located ? !holes.contains(page) : page < firstUntrusted
            map.append(usable && index < reachable ? Int32(index) : nil)
        }
        return map
    }
}

/// Poppler's diagnostics, which poppler-glib sends to GLib's log (domain "Poppler", level INFO).
///
/// GLib's handler is process-wide, while documents are opened on many threads at once, so the
/// handler files each message with the thread that caused it (poppler logs synchronously, on the
/// calling thread) and otherwise passes it on to GLib's default handler as before.
enum PopplerLog {
    /// Runs `body` and returns what poppler logged on this thread meanwhile.
    static func collect<T>(_ body: () -> T) -> (T, [String]) {
        let key = threadKey
        let box = Unmanaged.passRetained(Lines())
        defer { box.release() }
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, box.toOpaque())
        defer { pthread_setspecific(key, previous) }
        let result = body()
        return (result, box.takeUnretainedValue().lines)
    }

    /// Lines logged on one thread; only touched by that thread.
    final class Lines {
        var lines: [String] = []
    }

    /// Created with the handler, once, on first use.
    private static let threadKey: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "no thread-specific key for poppler's log")
        let levels = GLogLevelFlags(rawValue: G_LOG_LEVEL_INFO.rawValue | G_LOG_LEVEL_DEBUG.rawValue)
        g_log_set_handler("Poppler", levels, popplerLogHandler, nil)
        return key
    }()

    fileprivate static func record(_ message: UnsafePointer<gchar>) {
        guard let box = pthread_getspecific(threadKey) else { return }
        Unmanaged<Lines>.fromOpaque(box).takeUnretainedValue().lines.append(String(cString: message))
    }
}

/// GLib's log handler for the "Poppler" domain: a plain C function, as GLib needs.
private func popplerLogHandler(
    _ domain: UnsafePointer<gchar>?, _ level: GLogLevelFlags, _ message: UnsafePointer<gchar>?,
    _ userData: gpointer?
) {
    if let message { PopplerLog.record(message) }
    g_log_default_handler(domain, level, message, userData)
}
