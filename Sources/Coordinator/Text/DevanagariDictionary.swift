import CHunspell
import Foundation
import Synchronization

/// Hindi words from Debian's `hunspell-hi`: how much of a text layer is real words, and which
/// fragments poppler split are one word.
///
/// The rules in `DevanagariRepair` cannot tell `दे ती` (one word, split between glyphs) from
/// `दे दी` (two words); a dictionary can. No Marathi dictionary is packaged, so Marathi pages are
/// judged by `DevanagariCheck`'s spelling rules and by comparison with OCR only.
public final class DevanagariDictionary: Sendable {
    /// nil when `hunspell-hi` is not installed.
    public static let hindi = DevanagariDictionary(
        affix: "/usr/share/hunspell/hi_IN.aff", dictionary: "/usr/share/hunspell/hi_IN.dic")

    /// Longer "words" are never shown to hunspell (long input has crashed it before) and count
    /// as unknown; the longest Hindi words are about 20 letters.
    static let maximumWordScalars = 40
    /// The most fragments joined back into one word (`चि ंति त` is three).
    static let maximumFragments = 3

    private struct Handle: @unchecked Sendable {  // used only inside `handle`'s lock: hunspell is not thread-safe
        let pointer: OpaquePointer
    }
    private let handle: Mutex<Handle>

    init?(affix: String, dictionary: String) {
        guard FileManager.default.fileExists(atPath: affix), FileManager.default.fileExists(atPath: dictionary),
            let pointer = Hunspell_create(affix, dictionary)
        else { return nil }
        handle = Mutex(Handle(pointer: pointer))
    }

    deinit {
        handle.withLock { Hunspell_destroy($0.pointer) }
    }

    /// True for a word the dictionary knows. Only Devanagari letters and signs reach hunspell.
    public func contains(_ word: some StringProtocol) -> Bool {
        let scalars = word.unicodeScalars
        guard !scalars.isEmpty, scalars.count <= Self.maximumWordScalars, scalars.allSatisfy(Devanagari.isLetterOrSign)
        else { return false }
        let text = String(word)
        return handle.withLock { Hunspell_spell($0.pointer, text) != 0 }
    }

    /// Known words among the text's Devanagari words, punctuation stripped.
    public func score(_ text: String) -> (words: Int, known: Int) {
        var words = 0
        var known = 0
        for token in Devanagari.tokens(text) {
            let word = Devanagari.core(of: token)
            guard !word.isEmpty, word.unicodeScalars.allSatisfy(Devanagari.isLetterOrSign) else { continue }
            words += 1
            if contains(word) { known += 1 }
        }
        return (words, known)
    }

    /// The share of known words, nil for a text with no Devanagari words.
    public func share(_ text: String) -> Double? {
        let (words, known) = score(text)
        return words == 0 ? nil : Double(known) / Double(words)
    }

    /// `दे ती` → `देती`: up to three neighbouring fragments become one word when the joined word is
    /// in the dictionary and at least one fragment is not. (`दे` alone is a word, so demanding that
    /// neither be one would keep the most common split.) Lines are kept.
    public func joinSplitWords(_ text: String) -> String {
        Devanagari.tokens(text, separator: { $0 == "\n" }).map { line in
            let tokens = Devanagari.tokens(line, separator: { $0 == " " })
            var output: [Substring] = []
            var index = 0
            while index < tokens.count {
                var joined = false
                for count in stride(from: min(Self.maximumFragments, tokens.count - index), through: 2, by: -1) {
                    let parts = tokens[index..<index + count]
                    // Punctuation may end the last fragment only.
                    guard
                        parts.dropLast().allSatisfy({
                            !$0.isEmpty && $0.unicodeScalars.allSatisfy(Devanagari.isLetterOrSign)
                        })
                    else { continue }
                    let candidate = parts.joined()
                    let core = Devanagari.core(of: Substring(candidate))
                    guard core.unicodeScalars.count <= Self.maximumWordScalars, contains(core),
                        !parts.allSatisfy({ contains(Devanagari.core(of: $0)) })
                    else { continue }
                    output.append(Substring(candidate))
                    index += count
                    joined = true
                    break
                }
                if !joined {
                    output.append(tokens[index])
                    index += 1
                }
            }
            return output.joined(separator: " ")
        }.joined(separator: "\n")
    }
}
