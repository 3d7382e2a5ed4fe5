import Testing

@testable import Coordinator

@Suite("Fair job queue")
struct JobQueueTests {
    @Test func shortBookAfterLongBookIsServedWithinItsFirstTurns() {
        var queue = JobQueue()
        for page in 1...1000 { queue.push(PageKey(book: 1, page: page)) }
        for page in 1...8 { queue.push(PageKey(book: 2, page: page)) }
        var order: [PageKey] = []
        while let key = queue.pop() { order.append(key) }
        #expect(order.count == 1008)
        let lastShort = order.lastIndex { $0.book == 2 }!
        // Its page 1 first, then alternating turns: the 8-page book's last page goes out 15th,
        // not 1008th.
        #expect(order.first == PageKey(book: 2, page: 1))
        #expect(lastShort == 14)
        #expect(order.filter { $0.book == 2 }.map(\.page) == Array(1...8))
        #expect(order.filter { $0.book == 1 }.map(\.page) == Array(1...1000))
    }

    @Test func threeBooksRotate() {
        var queue = JobQueue()
        for book in 1...3 { for page in 1...2 { queue.push(PageKey(book: Int64(book), page: page)) } }
        var books: [Int64] = []
        while let key = queue.pop() { books.append(key.book) }
        // Each new book's page 1 went to the front as it came.
        #expect(books == [3, 2, 1, 3, 2, 1])
    }

    @Test func aNewBooksFirstPageGoesFirstButNotARetriedLaterPage() {
        var queue = JobQueue()
        for page in 1...50 { queue.push(PageKey(book: 1, page: page)) }
        #expect(queue.pop() == PageKey(book: 1, page: 1))
        queue.push(PageKey(book: 2, page: 1))
        queue.push(PageKey(book: 2, page: 2))
        #expect(queue.pop() == PageKey(book: 2, page: 1))
        #expect(queue.pop() == PageKey(book: 1, page: 2))
        #expect(queue.pop() == PageKey(book: 2, page: 2))
        // A page other than 1 coming back (a retry) waits its turn.
        queue.push(PageKey(book: 3, page: 7))
        #expect(queue.pop() == PageKey(book: 1, page: 3))
        #expect(queue.pop() == PageKey(book: 3, page: 7))
    }

    @Test func removingABookDropsOnlyItsJobs() {
        var queue = JobQueue()
        for page in 1...3 { queue.push(PageKey(book: 1, page: page)) }
        queue.push(PageKey(book: 2, page: 1))
        queue.remove(book: 1)
        #expect(queue.count == 1)
        #expect(queue.pop() == PageKey(book: 2, page: 1))
        #expect(queue.pop() == nil)
        #expect(queue.isEmpty)
    }
}
