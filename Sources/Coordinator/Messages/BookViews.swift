import Foundation

/// A page's or a book's processing state, as clients see it.
public enum ProcessingStatus: String, Codable, Sendable, CaseIterable {
    case pending, processing, completed, failed
}

/// One row of `GET /api/books/`.
public struct BookSummary: Codable, Sendable, Equatable {
    public var id: Int64
    public var title: String
    public var totalPages: Int
    public var processingStatus: ProcessingStatus
    public var processingProgress: Int
    public var createdAt: Date
}

/// `GET /api/books/{id}/`: the book and its chapters (from the PDF's outline; empty without one).
public struct BookDetail: Codable, Sendable, Equatable {
    public var id: Int64
    public var title: String
    public var author: String?
    public var language: String?
    public var voice: String?
    public var quality: String?
    public var totalPages: Int
    public var processingStatus: ProcessingStatus
    public var createdAt: Date
    public var chapters: [BookChapter]

    private enum CodingKeys: String, CodingKey {
        case id, title, author, language, voice, quality, totalPages = "total_pages"
        case processingStatus = "processing_status", createdAt = "created_at", chapters
    }

    /// Absent values are written as null.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(title, forKey: .title)
        try container.encode(author, forKey: .author)
        try container.encode(language, forKey: .language)
        try container.encode(voice, forKey: .voice)
        try container.encode(quality, forKey: .quality)
        try container.encode(totalPages, forKey: .totalPages)
        try container.encode(processingStatus, forKey: .processingStatus)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(chapters, forKey: .chapters)
    }
}

/// `GET /api/books/{id}/status/`.
public struct BookStatus: Codable, Sendable, Equatable {
    public struct PagesStatus: Codable, Sendable, Equatable {
        public var pending: Int
        public var processing: Int
        public var completed: Int
        public var failed: Int
    }

    /// Spelled out in snake case, so events can be encoded without a key strategy (it was a tenth
    /// of the coordinator's time per page); the gateway's snake-case strategy leaves them as they are.
    private enum CodingKeys: String, CodingKey {
        case bookId = "book_id"
        case title
        case processingStatus = "processing_status"
        case processingProgress = "processing_progress"
        case totalPages = "total_pages"
        case pagesStatus = "pages_status"
        case audioReady = "audio_ready"
        case pagesWithAudio = "pages_with_audio"
        case estimatedTimeRemaining = "estimated_time_remaining"
        case createdAt = "created_at"
        case lastUpdated = "last_updated"
    }

    public var bookId: Int64
    public var title: String
    public var processingStatus: ProcessingStatus
    public var processingProgress: Int
    public var totalPages: Int
    public var pagesStatus: PagesStatus
    public var audioReady: Bool
    public var pagesWithAudio: Int
    public var estimatedTimeRemaining: String
    public var createdAt: Date
    public var lastUpdated: Date
}

/// `GET /api/books/{id}/pages/`.
public struct BookPages: Codable, Sendable, Equatable {
    public struct Book: Codable, Sendable, Equatable {
        public var id: Int64
        public var title: String
        public var totalPages: Int
        public var processingStatus: ProcessingStatus
    }

    public struct Page: Codable, Sendable, Equatable {
        public var id: Int64
        public var pageNumber: Int
        public var textContent: String
        /// Relative to the gateway: `/media/books/{id}/page_0001.mp3`; nil until the audio is stored,
        /// and for pages with nothing to say.
        public var audioUrl: String?
        public var audioDuration: Int?
        public var processingStatus: ProcessingStatus
        /// The espeak-ng voice the page was spoken with.
        public var voice: String?
        public var textSource: String
        /// Why the page failed (only when it did).
        public var error: String?
        /// The language the page was voiced in (`en`, `fr`, `hi`), once voiced.
        public var language: String? = nil
        /// Tesseract's mean word confidence, 0–100, for pages read with OCR.
        public var ocrConfidence: Double? = nil
        /// `good` once voiced; `unreadable` for a scan OCR could not read reliably, which is
        /// completed without audio rather than voiced as noise.
        public var textQuality: String? = nil
        /// The sentences of the audio, in order; nil until voiced.
        public var segments: [AudioSegment]? = nil
        /// `espeak-ng` or `piper`; nil until voiced.
        public var engine: String? = nil
    }

    /// The page slice answered: `offset` and `limit` as applied, and where the next slice starts
    /// (nil after the last page), so clients page through long books.
    public var offset: Int
    public var limit: Int
    public var nextOffset: Int?
    public var book: Book
    public var pages: [Page]

    /// A slice from `offset`: the next one starts after its pages, unless it reached the end.
    init(offset: Int, limit: Int, book: Book, pages: [Page]) {
        let next = offset + pages.count
        self.offset = offset
        self.limit = limit
        self.nextOffset = next < book.totalPages && !pages.isEmpty ? next : nil
        self.book = book
        self.pages = pages
    }

    private enum CodingKeys: String, CodingKey { case offset, limit, nextOffset, book, pages }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(offset, forKey: .offset)
        try container.encode(limit, forKey: .limit)
        try container.encode(nextOffset, forKey: .nextOffset)  // null at the end, never left out
        try container.encode(book, forKey: .book)
        try container.encode(pages, forKey: .pages)
    }
}

/// A piece of one page's MP3, for HTTP range requests.
public struct AudioSlice: Codable, Sendable, Equatable {
    public var totalBytes: Int
    public var offset: Int
    public var data: Data
}

/// A piece of a page's audio for a listener, who may have started while the page was being voiced.
public struct LiveAudioSlice: Codable, Sendable, Equatable {
    /// The attempt being voiced, to be shown on the next read; nil when the page's audio is its
    /// final file (then `totalBytes` is its size).
    public var attempt: UUID?
    public var offset: Int
    public var data: Data
    /// There is nothing after this piece.
    public var complete: Bool
    public var totalBytes: Int?
}

/// Where a book's listener is: `GET`/`PUT /api/books/{id}/position/`.
public struct ListeningPosition: Codable, Sendable, Equatable {
    public var bookId: Int64
    public var page: Int
    /// Seconds into the page's audio.
    public var seconds: Double
    /// nil: never saved (page 1 at 0 s).
    public var updatedAt: Date?

    private enum CodingKeys: String, CodingKey {
        case bookId = "book_id", page, seconds, updatedAt = "updated_at"
    }

    public init(bookId: Int64, page: Int, seconds: Double, updatedAt: Date?) {
        self.bookId = bookId
        self.page = page
        self.seconds = seconds
        self.updatedAt = updatedAt
    }

    /// Absent values are written as null.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(bookId, forKey: .bookId)
        try container.encode(page, forKey: .page)
        try container.encode(seconds, forKey: .seconds)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

/// The answer to a retry.
public struct RetryOutcome: Codable, Sendable, Equatable {
    public var bookId: Int64
    public var requeuedPages: Int
}

/// What one worker is doing, for `GET /api/cluster/`.
public struct WorkerActivity: Codable, Sendable, Equatable {
    public var node: String
    public var jobsDone: Int
    public var currentJobs: [String]
    public var concurrency: Int
    public var ocrLanguages: [String] = []
}

extension BookPages.Page {
    /// The media path of a page's audio; the only shape the gateway serves.
    public static func audioPath(book: Int64, page: Int) -> String {
        "/media/books/\(book)/" + audioFileName(page: page)
    }

    public static func audioFileName(page: Int) -> String {
        "page_" + String(format: "%04d", page) + ".mp3"
    }
}

extension BookPages.Page {
    private enum CodingKeys: String, CodingKey {
        case id, pageNumber, textContent, audioUrl, audioDuration, processingStatus, voice, textSource, error
        case language, ocrConfidence, textQuality, segments, engine
    }

    /// `audio_url`, `audio_duration` and `voice` are written as null when absent (the original
    /// service's clients read them that way); `error` appears only on failed pages.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(pageNumber, forKey: .pageNumber)
        try container.encode(textContent, forKey: .textContent)
        try container.encode(audioUrl, forKey: .audioUrl)
        try container.encode(audioDuration, forKey: .audioDuration)
        try container.encode(processingStatus, forKey: .processingStatus)
        try container.encode(voice, forKey: .voice)
        try container.encode(textSource, forKey: .textSource)
        try container.encodeIfPresent(error, forKey: .error)
        try container.encode(language, forKey: .language)
        try container.encode(ocrConfidence, forKey: .ocrConfidence)
        try container.encode(textQuality, forKey: .textQuality)
        try container.encode(segments, forKey: .segments)
        try container.encode(engine, forKey: .engine)
    }
}

/// One voice of `GET /api/voices/`: what it is and how many workers can speak with it.
public struct VoiceListing: Codable, Sendable, Equatable {
    public var name: String
    public var engine: String
    public var language: String
    public var quality: String
    public var sampleRate: Int
    public var workers: Int

    public init(voice: VoiceInfo, workers: Int) {
        name = voice.name
        engine = voice.engine
        language = voice.language
        quality = voice.quality
        sampleRate = voice.sampleRate
        self.workers = workers
    }
}

/// Which coordinator is active, and under which lease epoch (nil: no lease, a single coordinator
/// on SQLite).
public struct Leadership: Codable, Sendable, Equatable {
    public var node: String
    public var epoch: Int64?

    public init(node: String, epoch: Int64?) {
        self.node = node
        self.epoch = epoch
    }
}
