/// Character classes of the Devanagari block that the text repair and the quality check need.
enum Devanagari {
    static let shortI: Unicode.Scalar = "\u{093F}"
    static let virama: Unicode.Scalar = "\u{094D}"
    static let nukta: Unicode.Scalar = "\u{093C}"

    static func isDevanagari(_ scalar: Unicode.Scalar) -> Bool {
        (0x0900...0x097F).contains(scalar.value) || (0xA8E0...0xA8FF).contains(scalar.value)
    }

    static func isConsonant(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0915...0x0939, 0x0958...0x095F, 0x0978...0x097F: true
        default: false
        }
    }

    static func isIndependentVowel(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0904...0x0914, 0x0960...0x0961, 0x0972...0x0977: true
        default: false
        }
    }

    /// Dependent vowel signs (matras).
    static func isVowelSign(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x093A...0x093B, 0x093E...0x094C, 0x094E...0x094F, 0x0955...0x0957, 0x0962...0x0963: true
        default: false
        }
    }

    /// Candrabindu, anusvara, visarga.
    static func isModifier(_ scalar: Unicode.Scalar) -> Bool {
        (0x0901...0x0903).contains(scalar.value)
    }

    /// Anything that attaches to what comes before it and so can never start a word.
    static func isMark(_ scalar: Unicode.Scalar) -> Bool {
        isVowelSign(scalar) || isModifier(scalar) || scalar == virama || scalar == nukta
    }

    /// Letters, signs and marks of words: not the danda, digits or the abbreviation sign.
    static func isLetterOrSign(_ scalar: Unicode.Scalar) -> Bool {
        isDevanagari(scalar) && !(0x0964...0x0970).contains(scalar.value)
    }

    /// The word without what surrounds it: punctuation, dandas, quotes.
    static func core(of token: Substring) -> String {
        let scalars = token.unicodeScalars
        guard let first = scalars.firstIndex(where: isLetterOrSign),
            let last = scalars.lastIndex(where: isLetterOrSign)
        else { return "" }
        return String(scalars[first...last])
    }

    /// Whitespace-separated tokens, split on scalars: a space followed by a vowel sign is one
    /// `Character`, so splitting characters would miss exactly the gaps the checks look for.
    static func tokens(_ string: some StringProtocol, separator: ((Unicode.Scalar) -> Bool)? = nil) -> [Substring] {
        let text = Substring(string)
        let isSeparator = separator ?? { $0.properties.isWhitespace }
        var tokens: [Substring] = []
        var start = text.unicodeScalars.startIndex
        var index = start
        let scalars = text.unicodeScalars
        while index < scalars.endIndex {
            if isSeparator(scalars[index]) {
                tokens.append(Substring(scalars[start..<index]))
                start = scalars.index(after: index)
            }
            index = scalars.index(after: index)
        }
        tokens.append(Substring(scalars[start..<scalars.endIndex]))
        return tokens
    }
}
