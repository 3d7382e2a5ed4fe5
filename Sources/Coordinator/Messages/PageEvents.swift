import Foundation

/// `page_processing`: a worker took the page.
public struct PageProcessing: Codable, Sendable, Equatable {
    public var bookId: Int64
    public var pageNumber: Int
    public var worker: String
    public var attempt: Int
}

/// `page_completed`: the page's audio is stored (or it had nothing to say: `audio_url` null).
public struct PageCompleted: Codable, Sendable, Equatable {
    public var bookId: Int64
    public var pageNumber: Int
    public var audioUrl: String?
    public var audioDuration: Int?
    public var voice: String?
    public var textSource: String

    private enum CodingKeys: String, CodingKey {
        case bookId, pageNumber, audioUrl, audioDuration, voice, textSource
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
    }
}

/// `page_failed`: an attempt failed; `will_retry` tells whether another one is coming.
public struct PageFailed: Codable, Sendable, Equatable {
    public var bookId: Int64
    public var pageNumber: Int
    public var error: String
    public var attempt: Int
    public var willRetry: Bool
}

/// `book_deleted`: the book is gone; the stream ends.
public struct BookDeleted: Codable, Sendable, Equatable {
    public var bookId: Int64
}

/// How every event's JSON is written: as the gateway writes its answers.
public enum EventJSON {
    public static func encode(_ value: some Encodable) -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return (try? encoder.encode(value)) ?? Data("{}".utf8)
    }
}
