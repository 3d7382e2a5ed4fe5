/// Why a PDF, or one of its pages, cannot be read.
public enum PDFError: Error, Equatable, Sendable, CustomStringConvertible {
    case empty
    case notPDF
    case encrypted
    case damaged(String)
    case noPages
    /// 1-based page number poppler returned nothing for.
    case pageUnreadable(Int)

    public var description: String {
        switch self {
        case .empty: "The uploaded file is empty."
        case .notPDF: "The file is not a PDF (it does not start with %PDF-)."
        case .encrypted: "The PDF is encrypted and needs a password; upload an unprotected copy."
        case .damaged(let detail): "The PDF is damaged and cannot be read (\(detail))."
        case .noPages: "The PDF has no pages."
        case .pageUnreadable(let page): "page \(page) is damaged and could not be read"
        }
    }
}
