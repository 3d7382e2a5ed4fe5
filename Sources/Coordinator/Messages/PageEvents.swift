import Foundation

/// `page_processing`: a worker took the page.
public struct PageProcessing: Codable, Sendable, Equatable {
    public var bookId: Int64
    public var pageNumber: Int
    public var worker: String
    public var attempt: Int
    /// Where the page's audio can be played while it is made (it streams until the page is done).
    public var audioUrl: String

    private enum CodingKeys: String, CodingKey {
        case bookId = "book_id", pageNumber = "page_number", worker, attempt, audioUrl = "audio_url"
    }
}

/// `page_completed`: the page's audio is stored (or it had nothing to say: `audio_url` null).
public struct PageCompleted: Codable, Sendable, Equatable {
    public var bookId: Int64
    public var pageNumber: Int
    public var audioUrl: String?
    public var audioDuration: Int?
    public var voice: String?
    public var textSource: String
    public var language: String? = nil
    /// `unreadable`: the scan was not voiced (see the page's `ocr_confidence`).
    public var textQuality: String? = nil

    private enum CodingKeys: String, CodingKey {
        case bookId = "book_id", pageNumber = "page_number", audioUrl = "audio_url", audioDuration = "audio_duration"
        case voice, textSource = "text_source", language, textQuality = "text_quality"
    }

    /// Absent values are written as null, as in the pages list.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(bookId, forKey: .bookId)
        try container.encode(pageNumber, forKey: .pageNumber)
        try container.encode(audioUrl, forKey: .audioUrl)
        try container.encode(audioDuration, forKey: .audioDuration)
        try container.encode(voice, forKey: .voice)
        try container.encode(textSource, forKey: .textSource)
        try container.encode(language, forKey: .language)
        try container.encode(textQuality, forKey: .textQuality)
    }
}

/// `page_failed`: an attempt failed; `will_retry` tells whether another one is coming.
public struct PageFailed: Codable, Sendable, Equatable {
    public var bookId: Int64
    public var pageNumber: Int
    public var error: String
    public var attempt: Int
    public var willRetry: Bool

    private enum CodingKeys: String, CodingKey {
        case bookId = "book_id", pageNumber = "page_number", error, attempt, willRetry = "will_retry"
    }
}

/// `book_deleted`: the book is gone; the stream ends.
public struct BookDeleted: Codable, Sendable, Equatable {
    public var bookId: Int64

    private enum CodingKeys: String, CodingKey { case bookId = "book_id" }
}

/// How every event's JSON is written: as the gateway writes its answers. Event payloads spell
/// their keys in snake case themselves, so no key strategy runs.
public enum EventJSON {
    public static func encode(_ value: some Encodable) -> Data {
        (try? encoder.encode(value)) ?? Data("{}".utf8)
    }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return encoder
    }()
}
