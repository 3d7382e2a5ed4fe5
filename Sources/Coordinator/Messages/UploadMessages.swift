/// What the uploader told us about the book, all optional.
public struct UploadMetadata: Codable, Sendable, Equatable {
    public var title: String?
    public var author: String?
    /// `hindi`, `english`, `hinglish`, or an espeak-ng voice name such as `mr`.
    public var language: String?
    /// An espeak-ng voice name; wins over `language`.
    public var voice: String?
    /// The uploaded file's name, used as the title when none is given.
    public var filename: String?
    /// `natural` or `fast`; nil: natural where a worker has a natural voice for the language.
    public var quality: String? = nil

    public init(
        title: String? = nil, author: String? = nil, language: String? = nil, voice: String? = nil,
        filename: String? = nil
    ) {
        self.title = title
        self.author = author
        self.language = language
        self.voice = voice
        self.filename = filename
    }
}

/// The upload's validated shape: known before any book exists.
public struct UploadInspection: Codable, Sendable, Equatable {
    public var totalPages: Int
    public var bytes: Int

    public init(totalPages: Int, bytes: Int) {
        self.totalPages = totalPages
        self.bytes = bytes
    }
}

/// The `completed` payload of an upload, field for field as the original service sent it.
public struct BookCreated: Codable, Sendable, Equatable {
    public var bookId: Int64
    public var title: String
    public var totalPages: Int
    public var statusUrl: String
    public var message: String

    public init(bookId: Int64, title: String, totalPages: Int) {
        self.bookId = bookId
        self.title = title
        self.totalPages = totalPages
        self.statusUrl = "/api/books/\(bookId)/status/"
        self.message = "Upload completed! Audio generation is running in background."
    }
}

/// One page's text has been extracted (the upload stream's `text_progress` event).
public struct TextProgress: Codable, Sendable, Equatable {
    public var currentPage: Int
    public var totalPages: Int
    public var progress: Int
    public var message: String
    public var chars: Int
    /// `pdf`: the text layer was used; `ocr`: the page has no usable text layer and waits for
    /// OCR on a worker; `none`: the page could not be read at all.
    public var textSource: String

    public init(currentPage: Int, totalPages: Int, chars: Int, textSource: String) {
        self.currentPage = currentPage
        self.totalPages = totalPages
        self.progress = totalPages == 0 ? 100 : currentPage * 100 / totalPages
        self.chars = chars
        self.textSource = textSource
        self.message =
            switch textSource {
            case "pdf": "Extracted text from page \(currentPage)/\(totalPages) (\(chars) characters)"
            case "ocr": "Page \(currentPage)/\(totalPages) has no usable text layer; waiting for OCR"
            default: "Page \(currentPage)/\(totalPages) could not be read from the PDF"
            }
    }
}
