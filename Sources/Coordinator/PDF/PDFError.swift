/// Why a PDF, or one of its pages, cannot be read.
///
/// The cases map onto what the gateway answers: `.notPDF` is a wrong media type (415), the others
/// are files that are PDFs but cannot be used (422), so they must stay distinguishable.
public enum PDFError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Zero-length input, rejected before poppler, which gives no error for it.
    case empty
    /// No `%PDF-` signature in the first 1024 bytes; poppler would call it "damaged".
    case notPDF
    /// The PDF needs a password.
    case encrypted
    /// Poppler could not open it; the detail is poppler's own message.
    case damaged(String)
    case noPages
    /// 1-based page number whose page object is missing or broken.
    case pageUnreadable(Int)
    /// More pages than the coordinator's `max_pages` (declared, limit).
    case tooManyPages(Int, limit: Int)
    /// The page's box is not a finite, positive size (0, negative, NaN, 1e23…).
    case badPageBox(Int)

    public var description: String {
        switch self {
        case .empty: "The uploaded file is empty."
        case .notPDF: "The file is not a PDF (it does not start with %PDF-)."
        case .encrypted: "The PDF is encrypted and needs a password; upload an unprotected copy."
        case .damaged(let detail): "The PDF is damaged and cannot be read (\(detail))."
        case .noPages: "The PDF has no pages."
        // Lower case: callers embed it after their own "Page N could not be read: ".
        case .pageUnreadable(let page): "page \(page) is damaged and could not be read"
        case .tooManyPages(let count, let limit):
            "The PDF has \(count) pages; this server takes books of up to \(limit) pages."
        case .badPageBox(let page): "page \(page) has no usable size (its MediaBox is empty, negative or absurd)"
        }
    }
}
