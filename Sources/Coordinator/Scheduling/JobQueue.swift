import DequeModule

/// Pending page jobs, served round-robin across books.
///
/// Each book gets one page per turn, so a short book uploaded behind a long one is done after a few
/// dozen pages of the long one, not after all of them. A new book's page 1 jumps the line: its
/// listener can start while the rest is made. Only keys are held: texts stay in SQLite, so a
/// 1000-page book costs a few kilobytes here.
struct JobQueue {
    private var pagesByBook: [Int64: Deque<Int>] = [:]
    private var rotation: Deque<Int64> = []
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func push(_ key: PageKey) {
        if pagesByBook[key.book] == nil {
            pagesByBook[key.book] = []
            if key.page == 1 { rotation.prepend(key.book) } else { rotation.append(key.book) }
        }
        pagesByBook[key.book]!.append(key.page)
        count += 1
    }

    /// The next job: the first page of the book whose turn it is.
    mutating func pop() -> PageKey? {
        guard let book = rotation.popFirst() else { return nil }
        var pages = pagesByBook[book]!
        let page = pages.removeFirst()
        count -= 1
        if pages.isEmpty {
            pagesByBook[book] = nil
        } else {
            pagesByBook[book] = pages
            rotation.append(book)
        }
        return PageKey(book: book, page: page)
    }

    /// Drops a deleted book's jobs.
    mutating func remove(book: Int64) {
        guard let pages = pagesByBook.removeValue(forKey: book) else { return }
        count -= pages.count
        rotation.removeAll { $0 == book }
    }

    func contains(_ key: PageKey) -> Bool {
        pagesByBook[key.book]?.contains(key.page) ?? false
    }
}
