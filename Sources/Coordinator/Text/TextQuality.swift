/// Whether a page's text layer is worth voicing, or the page should be read from its image.
///
/// An empty layer means a scan. A layer can also be present and useless: fonts without a
/// Unicode map give private-use or replacement characters, and legacy Hindi fonts or broken
/// extraction give Devanagari that no writer could have typed (signs at word starts, a vowel sign
/// on a vowel). Such pages go to OCR.
public struct TextQuality: Sendable, Equatable {
    /// Letters and digits, of any script.
    public var letters: Int
    public var devanagari: Int
    /// Devanagari sequences that cannot occur in written text.
    public var impossible: Int
    /// Private-use and replacement characters.
    public var unmapped: Int

    public init(of text: String) {
        var letters = 0
        var devanagari = 0
        var impossible = 0
        var unmapped = 0
        var previous: Unicode.Scalar = " "
        for scalar in text.unicodeScalars {
            let properties = scalar.properties
            if properties.isAlphabetic || properties.numericType != nil { letters += 1 }
            if (0xE000...0xF8FF).contains(scalar.value) || scalar == "\u{FFFD}" { unmapped += 1 }
            if Devanagari.isDevanagari(scalar) {
                devanagari += 1
                if Self.isImpossible(scalar, after: previous) { impossible += 1 }
            }
            previous = scalar
        }
        self.letters = letters
        self.devanagari = devanagari
        self.impossible = impossible
        self.unmapped = unmapped
    }

    /// A sign with nothing to attach to, a vowel sign on a vowel or on another vowel sign, a virama
    /// or nukta not on a consonant.
    static func isImpossible(_ scalar: Unicode.Scalar, after previous: Unicode.Scalar) -> Bool {
        guard Devanagari.isMark(scalar) else { return false }
        if !Devanagari.isDevanagari(previous) { return true }
        if Devanagari.isVowelSign(scalar) {
            return Devanagari.isIndependentVowel(previous) || Devanagari.isVowelSign(previous)
                || previous == Devanagari.virama || Devanagari.isModifier(previous)
        }
        if scalar == Devanagari.virama || scalar == Devanagari.nukta {
            return !Devanagari.isConsonant(previous) && !(scalar == Devanagari.virama && previous == Devanagari.nukta)
        }
        return false
    }

    /// True when the text should be voiced as it is: it has letters, at most 5 % of its Devanagari
    /// is impossible, and at most 10 % of its letters are unmapped glyphs.
    public var isUsable: Bool {
        letters > 0 && impossible * 20 <= devanagari && unmapped * 10 <= letters
    }
}
