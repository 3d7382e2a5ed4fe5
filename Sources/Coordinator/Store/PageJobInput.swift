/// What a page's job is made of, read when its attempt starts.
struct PageJobInput: Sendable {
    var text: String
    var voice: String?
    var language: String?
    var totalPages: Int
    var attempts: Int
    /// `ocr` when the page has to be read from its image first.
    var textSource: String
    /// The text layer is voiced only if OCR of the page does not clearly score better.
    var checkWithOCR: Bool
    var quality: String?
}
