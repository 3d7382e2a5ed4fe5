/// A page's text cut into sentences, each with where it is in the text, so a page is voiced
/// sentence by sentence and a player can highlight what is being said.
///
/// Offsets count UTF-16 code units of the page's `text_content`, as JavaScript strings do, so
/// the web page can slice the text with them directly.
public enum Sentences {
    public struct Sentence: Equatable, Sendable {
        public var text: String
        public var utf16Offset: Int
        public var utf16Length: Int
    }

    /// No sentence is longer than this (a page without punctuation is cut at spaces).
    public static let maximumUTF16 = 600

    public static func split(_ text: String) -> [Sentence] {
        var sentences: [Sentence] = []
        var current = ""
        /// `current.count`, kept as it grows: counting the string at every space was quadratic.
        var characters = 0
        var start = 0
        var offset = 0
        var lastSpace: (characters: Int, utf16: Int)?
        var pendingBreak = false
        var newlines = 0

        func flush() {
            let trimmed = current.trimmingTrailingWhitespace
            if !trimmed.isEmpty {
                sentences.append(Sentence(text: trimmed, utf16Offset: start, utf16Length: trimmed.utf16.count))
            }
            current = ""
            characters = 0
            lastSpace = nil
        }

        for character in text {
            let width = character.utf16.count
            if character.isWhitespace {
                newlines = character.isNewline ? newlines + 1 : newlines
                if pendingBreak || newlines >= 2 {
                    flush()
                    pendingBreak = false
                }
                if !current.isEmpty {
                    lastSpace = (characters, offset - start)
                    current.append(character)
                    characters += 1
                }
                offset += width
                continue
            }
            newlines = 0
            // A closing quote or bracket after the full stop still belongs to the sentence.
            if !(pendingBreak && closers.contains(character)) { pendingBreak = false }
            if current.isEmpty { start = offset }
            current.append(character)
            characters += 1
            offset += width
            if terminators.contains(character) { pendingBreak = true }
            if offset - start >= maximumUTF16 {
                // Cut at the last space; with none, here.
                if let space = lastSpace, space.characters > 0 {
                    let head = String(current.prefix(space.characters))
                    let tail = String(current.dropFirst(space.characters)).drop(while: \.isWhitespace)
                    let tailStart = offset - tail.utf16.count
                    current = head
                    flush()
                    current = String(tail)
                    characters = tail.count
                    start = tailStart
                } else {
                    flush()
                }
            }
        }
        flush()
        return sentences
    }

    static let terminators: Set<Character> = [".", "!", "?", "।", "॥", "…", "؟", "。"]
    static let closers: Set<Character> = ["\"", "'", "”", "’", ")", "]", "»"]
}

extension String {
    fileprivate var trimmingTrailingWhitespace: String {
        var result = self
        while let last = result.last, last.isWhitespace { result.removeLast() }
        return result
    }
}
