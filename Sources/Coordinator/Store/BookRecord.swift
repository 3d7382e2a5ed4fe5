import Foundation
import GRDB

/// A row of `book`. Status and progress are kept up to date with every page change so listing
/// books never has to count pages.
struct BookRecord: Codable, FetchableRecord, MutablePersistableRecord, Sendable {
    static let databaseTableName = "book"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var title: String
    var author: String?
    var language: String?
    var voice: String?
    /// `natural`, `fast`, or nil (natural where there is a natural voice).
    var quality: String?
    var totalPages: Int
    var processingStatus: String
    var processingProgress: Int
    var createdAt: Date
    var updatedAt: Date
    /// When the first page job was handed out: the start of the throughput the ETA is measured on.
    var processingStartedAt: Date?
    var completedAt: Date?

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
