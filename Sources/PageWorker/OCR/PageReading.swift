import Coordinator
import Foundation

/// What Tesseract read on a page: every word with its confidence, and what is worth voicing.
///
/// A scan read the wrong way up, a photo or noise gives Tesseract strings it is unsure of (mean
/// word confidence 20–40, against 90–96 for a clear page). Words below `wordFloor` are dropped
/// from the text, and a page whose letters are mostly in such words, or whose mean confidence is
/// under `pageFloor`, is not voiced at all (`isReadable`).
public struct PageReading: Codable, Sendable, Equatable {
    public struct Word: Codable, Sendable, Equatable {
        public var text: String
        /// Tesseract's 0–100.
        public var confidence: Double
        public var endsLine = false
    }

    /// Words under this confidence are left out of the text.
    public static let wordFloor = 50.0
    /// A page under this mean confidence is not voiced.
    public static let pageFloor = 60.0

    public var words: [Word]
    /// Degrees turned clockwise to make the page upright.
    public var rotation: Int
    /// OSD's script, `Latin`, `Devanagari`, …; nil when OSD did not run or could not tell.
    public var script: String?
    /// The Tesseract packs the words were read with (`eng`, `fra`, `hin+eng`).
    public var languages: String
    /// The language the text was identified as, when no language was given.
    public var language: String?

    public init(words: [Word], rotation: Int, script: String?, languages: String, language: String? = nil) {
        self.words = words
        self.rotation = rotation
        self.script = script
        self.languages = languages
        self.language = language
    }

    /// The confident words, a line per line read.
    public var text: String {
        var text = ""
        var lineHasWords = false
        for word in words {
            if word.confidence >= Self.wordFloor {
                if lineHasWords { text += " " }
                text += word.text
                lineHasWords = true
            }
            if word.endsLine, lineHasWords {
                text += "\n"
                lineHasWords = false
            }
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Mean word confidence, weighted by letters, 0 for a page without words.
    public var meanConfidence: Double {
        var total = 0.0
        var letters = 0
        for word in words {
            let count = Self.letters(in: word.text)
            total += word.confidence * Double(count)
            letters += count
        }
        return letters == 0 ? 0 : total / Double(letters)
    }

    /// The share of letters in words at or above the floor.
    public var confidentShare: Double {
        var confident = 0
        var letters = 0
        for word in words {
            let count = Self.letters(in: word.text)
            letters += count
            if word.confidence >= Self.wordFloor { confident += count }
        }
        return letters == 0 ? 0 : Double(confident) / Double(letters)
    }

    /// Worth voicing: some letters, a mean confidence over the page floor, and most letters confident.
    public var isReadable: Bool {
        meanConfidence >= Self.pageFloor && confidentShare >= 0.5
    }

    /// Why the page is not voiced, for the page's `error`-free note and the log.
    public var unreadableReason: String {
        if meanConfidence == 0 { return "no text could be read on the scan" }
        return "scan could not be read reliably (mean confidence \(Int(meanConfidence.rounded())) %)"
    }

    static func letters(in word: String) -> Int {
        word.unicodeScalars.reduce(0) { $0 + ($1.properties.isAlphabetic || $1.properties.numericType != nil ? 1 : 0) }
    }
}
