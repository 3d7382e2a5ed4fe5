/// One sentence of a page's audio: when it is spoken, and where it is in the page's text.
///
/// `start`/`end` are seconds from the start of the page's MP3; `textOffset`/`textLength` count
/// UTF-16 code units of the page's `text_content` (what JavaScript's string indices count).
public struct AudioSegment: Codable, Sendable, Equatable {
    public var start: Double
    public var end: Double
    public var textOffset: Int
    public var textLength: Int

    public init(start: Double, end: Double, textOffset: Int, textLength: Int) {
        self.start = start
        self.end = end
        self.textOffset = textOffset
        self.textLength = textLength
    }

    private enum CodingKeys: String, CodingKey {
        case start, end, textOffset = "text_offset", textLength = "text_length"
    }

    /// The most segments a page may have: a page of 200 000 characters cut at 600 is 334, but a
    /// page of one-word sentences has many more.
    public static let maximumPerPage = 50_000

    /// True when `segments` could describe an audio of `duration` seconds over a text of
    /// `textUTF16` units: ordered, non-overlapping, inside both. A worker's list is checked with it
    /// before it is stored.
    public static func areValid(_ segments: [AudioSegment], duration: Double, textUTF16: Int) -> Bool {
        guard segments.count <= maximumPerPage else { return false }
        var lastEnd = 0.0
        var lastText = 0
        for segment in segments {
            guard segment.start.isFinite, segment.end.isFinite, segment.start >= lastEnd - 1e-6,
                segment.end >= segment.start, segment.end <= duration + 0.5,
                segment.textOffset >= lastText, segment.textLength > 0,
                segment.textOffset <= textUTF16 - segment.textLength
            else { return false }
            lastEnd = segment.end
            lastText = segment.textOffset + segment.textLength
        }
        return true
    }
}
