/// A page of a book: the unit of work.
public struct PageKey: Hashable, Sendable, Codable, CustomStringConvertible {
    public var book: Int64
    public var page: Int

    public init(book: Int64, page: Int) {
        self.book = book
        self.page = page
    }

    public var description: String { "book \(book) page \(page)" }
}
