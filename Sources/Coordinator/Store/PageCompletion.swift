/// A page's stored audio, to be recorded by `complete`.
struct PageCompletion: Sendable {
    var key: PageKey
    var attempt: Int
    var audioPath: String?
    var duration: Double
    var voice: String?
    var textSource: String
    var text: String?
    var language: String? = nil
    var ocrConfidence: Double? = nil
    var textQuality: String? = nil
    var segments: [AudioSegment]? = nil
    var engine: String? = nil
}
