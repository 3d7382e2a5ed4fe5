/// A page of an upload as it is first stored.
struct NewPage: Sendable {
    var number: Int
    var text: String
    /// Why poppler could not return the page; such a page starts out failed.
    var unreadable: String?
    /// The text layer is empty or unusable: a worker reads the page's image instead.
    var needsOCR = false
    /// Why the layer is not used (for the log).
    var ocrReason: String?
    /// The layer is doubtful: a worker compares it with OCR of the page (`TextLayerCheck`).
    var checkWithOCR = false

    /// Where the page's text comes from: `pdf`, `ocr` (waiting for it, then read by it) or
    /// `none` (the page object itself is broken, so there is no image either).
    var textSource: String { unreadable != nil ? "none" : needsOCR ? "ocr" : "pdf" }
}
