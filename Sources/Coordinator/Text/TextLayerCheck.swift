import Foundation

/// Whether a page's text layer is voiced as it is, read again with OCR, or compared with OCR first.
///
/// `TextQuality` catches layers no writer could have typed. Two subtler faults are caught here,
/// both seen in typeset Devanagari: words that start with a vowel sign or virama (TeX output that
/// drew a sign apart from its letter: over 1 % of words means the layer is broken), and a layer of
/// well-formed letters that are not words (a wrong font map), which only a dictionary, or OCR of
/// the same page, shows.
public enum TextLayerCheck {
    public enum Verdict: Equatable, Sendable {
        /// Voice the (repaired) text layer.
        case voice
        /// Read the page image instead.
        case ocr(reason: String)
        /// Voice whichever of the text layer and OCR of the page scores better (`prefersOCR`).
        case compare(score: Double)
    }

    /// More sign-initial Devanagari words than this share, and the layer goes to OCR.
    public static let maximumSignInitialShare = 0.01
    /// A Hindi layer with fewer dictionary words than this is compared with OCR. A correct page of
    /// `hindi-8p` scores 0.85–0.9 (names and rare words are missing from hunspell-hi).
    public static let compareBelowDictionaryShare = 0.7
    /// A Devanagari layer (no dictionary) with fewer well-formed words than this is compared.
    public static let compareBelowWellFormedShare = 0.99
    /// OCR must beat the text layer by this much to replace it: "clearly below", not noise.
    public static let requiredMargin = 0.1

    /// The verdict on a page's layer. `raw` is poppler's text, `repaired` what `repair` made of it;
    /// `language` the book's language code when the uploader gave one.
    public static func verdict(
        raw: String, repaired: String, language: String?, dictionary: DevanagariDictionary?
    ) -> Verdict {
        let quality = TextQuality(of: repaired)
        guard quality.isUsable else { return .ocr(reason: "no usable text layer") }
        guard quality.devanagari * 2 > quality.letters else { return .voice }
        let (words, signInitial) = signInitialWords(raw)
        if words > 0, Double(signInitial) > Double(words) * maximumSignInitialShare {
            return .ocr(reason: "\(signInitial) of \(words) Devanagari words start with a vowel sign or virama")
        }
        // Identified once: the language decides both the score and its threshold.
        let hindi = isHindi(repaired, language: language, dictionary: dictionary)
        let score = score(repaired, hindi: hindi, dictionary: dictionary)
        let threshold = hindi ? compareBelowDictionaryShare : compareBelowWellFormedShare
        return score < threshold ? .compare(score: score) : .voice
    }

    /// How good a Devanagari text is, 0–1: its share of dictionary words when it is Hindi and the
    /// dictionary is installed, else its share of well-formed words. Comparable between a text
    /// layer and OCR of the same page, never across pages.
    public static func score(_ text: String, language: String?, dictionary: DevanagariDictionary?) -> Double {
        score(text, hindi: isHindi(text, language: language, dictionary: dictionary), dictionary: dictionary)
    }

    static func score(_ text: String, hindi: Bool, dictionary: DevanagariDictionary?) -> Double {
        if hindi, let dictionary, let share = dictionary.share(text) { return share }
        return wellFormedShare(text)
    }

    /// True when OCR's text should replace the layer's.
    public static func prefersOCR(
        textLayer: String, ocr: String, language: String?, dictionary: DevanagariDictionary?
    ) -> Bool {
        // Both judged by the language of what OCR read: a garbled layer must not change the rule.
        let hindi = isHindi(ocr, language: language, dictionary: dictionary)
        let layer = score(textLayer, hindi: hindi, dictionary: dictionary)
        let read = score(ocr, hindi: hindi, dictionary: dictionary)
        return read >= layer + requiredMargin
    }

    /// The repaired layer: the rules of `DevanagariRepair`, then the dictionary's joins for Hindi.
    public static func repair(_ raw: String, language: String?, dictionary: DevanagariDictionary?) -> String {
        let repaired = DevanagariRepair.repair(raw)
        guard let dictionary, isHindi(repaired, language: language, dictionary: dictionary) else { return repaired }
        return dictionary.joinSplitWords(repaired)
    }

    static func isHindi(_ text: String, language: String?, dictionary: DevanagariDictionary?) -> Bool {
        guard dictionary != nil else { return false }
        switch language?.lowercased() {
        case "hi", "hindi": return true
        case nil, "", "hinglish":
            // Devanagari text that textcat cannot place is taken to be Hindi, the common case.
            guard text.unicodeScalars.contains(where: Devanagari.isDevanagari) else { return false }
            let code = LanguageIdentifier.shared.identify(text)
            return code == nil || code == "hi"
        default: return false
        }
    }

    /// Devanagari words, and those of them that start with a vowel sign (other than `ि`, which
    /// PDFs draw before its consonant and `DevanagariRepair` moves) or a virama.
    static func signInitialWords(_ text: String) -> (words: Int, signInitial: Int) {
        var words = 0
        var signInitial = 0
        for token in Devanagari.tokens(text) where !token.isEmpty {
            var leading: Unicode.Scalar?
            for scalar in token.unicodeScalars where !CharacterSet.punctuationCharacters.contains(scalar) {
                leading = scalar
                break
            }
            guard let first = leading, Devanagari.isLetterOrSign(first) else { continue }
            words += 1
            if (Devanagari.isVowelSign(first) && first != Devanagari.shortI) || first == Devanagari.virama {
                signInitial += 1
            }
        }
        return (words, signInitial)
    }

    /// The share of Devanagari words with no impossible sequence in them.
    static func wellFormedShare(_ text: String) -> Double {
        var words = 0
        var good = 0
        for token in Devanagari.tokens(text) {
            let word = Devanagari.core(of: token)
            guard !word.isEmpty else { continue }
            words += 1
            var previous: Unicode.Scalar = " "
            var impossible = false
            for scalar in word.unicodeScalars {
                if TextQuality.isImpossible(scalar, after: previous) {
                    impossible = true
                    break
                }
                previous = scalar
            }
            if !impossible { good += 1 }
        }
        return words == 0 ? 1 : Double(good) / Double(words)
    }
}
