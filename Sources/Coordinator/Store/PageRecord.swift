import Foundation
import GRDB

/// A row of `page`: its text, where its job stands, and its audio once stored.
struct PageRecord: Codable, FetchableRecord, MutablePersistableRecord, Sendable {
    static let databaseTableName = "page"
    static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    var id: Int64?
    var bookId: Int64
    var pageNumber: Int
    var textContent: String
    var textSource: String
    var processingStatus: String
    /// Relative to the audio folder: `books/3/page_0001.mp3`.
    var audioPath: String?
    var audioDuration: Double?
    var voice: String?
    var error: String?
    /// Attempts handed out so far; the current attempt's number while `processing`.
    var attempts: Int
    var worker: String?
    /// Times the page's attempt ended with its worker gone (see `Dispatcher.Ending.lost`).
    var losses: Int = 0
    /// Set while the coordinator renders the page for OCR: found set at start, the render crashed it.
    var rendering: Bool = false
    /// The language the page was voiced in (a code: `fr`), as chosen by the worker.
    var language: String?
    /// Tesseract's mean word confidence, 0–100, for pages read with OCR.
    var ocrConfidence: Double?
    /// `good`, or `unreadable` for a scan read too unreliably to voice.
    var textQuality: String?
    /// The text layer is compared with OCR before it is voiced.
    var checkWithOcr: Bool = false
    /// JSON of the page's `AudioSegment`s.
    var segments: String?
    /// `espeak-ng` or `piper`.
    var engine: String?
    var startedAt: Date?
    var completedAt: Date?

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
