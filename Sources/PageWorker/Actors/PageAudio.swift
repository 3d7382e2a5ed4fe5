import Coordinator
import Foundation

/// A voiced page as the worker's job sees it; its MP3 is already in `PageTransfers`, streamed
/// there sentence by sentence.
struct PageAudio {
    var durationSeconds: Double
    var voice: String?
    var textSource = "pdf"
    /// The text the worker read from the page image (OCR), to be stored as the page's text.
    var text: String?
    var language: String?
    var ocrConfidence: Double?
    var textQuality: String?
    var segments: [AudioSegment]?
    var engine: String?
    /// The frame that replaces the stream's first (`MP3Stream.head`).
    var head: Data?

    static let silent = PageAudio(durationSeconds: 0, voice: nil)
}
