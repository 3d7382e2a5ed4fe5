/// How much of an upload request the gateway reads before refusing it.
struct UploadLimits: Sendable {
    /// Every byte of the body counts: multipart boundaries, part headers and text fields included,
    /// chunked or not.
    var maxBodyBytes: Int
    /// Characters (grapheme clusters) a text field may hold once decoded.
    var maxFieldCharacters: [String: Int] = ["title": 500, "author": 500, "language": 64, "voice": 64, "quality": 16]
    /// Bytes the multipart parser may hold between two callbacks (part headers, preamble), so a
    /// header without an end cannot grow to the body limit.
    var maxPartHeaderBytes = 16 * 1024
}
