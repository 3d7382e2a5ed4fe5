import Foundation

/// Undoes what PDF text extraction typically does to Hindi, before the text is stored and voiced.
///
/// A PDF draws glyphs, not letters: the short-i sign `ि` is drawn before its consonant, conjuncts
/// are single glyphs, and the gaps between glyphs decide where poppler puts spaces. Read back, the
/// text has the sign before the consonant (`िमस` for `मिस`), spaces inside words (`कि नारे`,
/// `चि ंति त`) and conjuncts split at the virama. Each rule here fixes one of those shapes and
/// none can damage correct text, except the join after `ि`, which leaves a list of real words
/// ending in `ि` alone (there is no dictionary to ask).
public enum DevanagariRepair {
    /// The repaired text, in Unicode NFC. Text without Devanagari comes back only normalised.
    public static func repair(_ text: String) -> String {
        let composed = text.precomposedStringWithCanonicalMapping
        guard composed.unicodeScalars.contains(where: Devanagari.isDevanagari) else { return composed }
        var scalars = Array(composed.unicodeScalars)
        scalars = joinSpacesBeforeMarks(scalars)
        scalars = joinSplitConjuncts(scalars)
        scalars = reorderPreBaseVowelSign(scalars)
        let joined = joinFragmentsAfterShortI(scalars)
        return joined.precomposedStringWithCanonicalMapping
    }

    /// `चि ंति त` → `चिंति त`: a sign can never start a word, so a space before it is a gap poppler saw
    /// between glyphs of one cluster.
    static func joinSpacesBeforeMarks(_ input: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(input.count)
        for scalar in input {
            // Not `ि`: after a space it is a misplaced pre-base sign, which the reorder moves.
            if Devanagari.isMark(scalar), scalar != Devanagari.shortI {
                var end = output.count
                while end > 0, output[end - 1] == " " || output[end - 1] == "\t" { end -= 1 }
                if end < output.count, end > 0, Devanagari.isDevanagari(output[end - 1]) {
                    output.removeSubrange(end...)
                }
            }
            output.append(scalar)
        }
        return output
    }

    /// `क् ष` → `क्ष`: a virama followed by a space and a consonant is a conjunct cut in two.
    static func joinSplitConjuncts(_ input: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let scalar = input[index]
            output.append(scalar)
            index += 1
            guard scalar == Devanagari.virama else { continue }
            var next = index
            while next < input.count, input[next] == " " { next += 1 }
            if next > index, next < input.count, Devanagari.isConsonant(input[next]) { index = next }
        }
        return output
    }

    /// `िमस` → `मिस`: the short-i sign belongs after the consonant cluster it is drawn before. A sign
    /// that does not follow a consonant (or nukta) is always misplaced, so it moves behind the next
    /// cluster: consonant, optional nukta, and any virama-joined consonants.
    static func reorderPreBaseVowelSign(_ input: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var output: [Unicode.Scalar] = []
        output.reserveCapacity(input.count)
        var index = 0
        while index < input.count {
            let scalar = input[index]
            let attached = output.last.map { Devanagari.isConsonant($0) || $0 == Devanagari.nukta } ?? false
            guard scalar == Devanagari.shortI, !attached else {
                output.append(scalar)
                index += 1
                continue
            }
            var start = index + 1
            while start < input.count, input[start] == " " { start += 1 }
            guard start < input.count, Devanagari.isConsonant(input[start]) else {
                output.append(scalar)
                index += 1
                continue
            }
            var end = start + 1
            while end < input.count {
                if input[end] == Devanagari.nukta {
                    end += 1
                } else if input[end] == Devanagari.virama, end + 1 < input.count,
                    Devanagari.isConsonant(input[end + 1])
                {
                    end += 2
                } else {
                    break
                }
            }
            output.append(contentsOf: input[start..<end])
            output.append(scalar)
            index = end
        }
        return output
    }

    /// `जि सकी` → `जिसकी`: poppler's stray spaces mostly follow a cluster with `ि`, whose glyph
    /// overhangs to the left. Words that really end in `ि` are kept apart.
    static func joinFragmentsAfterShortI(_ input: [Unicode.Scalar]) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: input)
        let lines = String(view).split(separator: "\n", omittingEmptySubsequences: false)
        return lines.map { line in
            var words: [Substring] = []
            for word in line.split(separator: " ", omittingEmptySubsequences: false) {
                if let last = words.last, last.unicodeScalars.last == Devanagari.shortI,
                    let first = word.unicodeScalars.first,
                    Devanagari.isConsonant(first) || Devanagari.isIndependentVowel(first),
                    !wordsEndingInShortI.contains(Self.letters(of: last))
                {
                    words[words.count - 1] = Substring(String(last) + word)
                } else {
                    words.append(word)
                }
            }
            return words.joined(separator: " ")
        }.joined(separator: "\n")
    }

    /// The word without the punctuation around it.
    static func letters(of word: Substring) -> String {
        var view = String.UnicodeScalarView()
        view.append(contentsOf: word.unicodeScalars.drop { !Devanagari.isDevanagari($0) })
        return String(view)
    }

    /// Common words that end in `ि`: a space after them is a real one.
    static let wordsEndingInShortI: Set<String> = Set(
        """
        कि यदि आदि प्रति अति इत्यादि शांति शान्ति स्थिति व्यक्ति शक्ति भक्ति मुक्ति युक्ति नीति रीति जाति गति मति पति
        प्रगति उन्नति संस्कृति प्रकृति आकृति कृति स्मृति स्तुति सृष्टि दृष्टि वृष्टि बुद्धि सिद्धि शुद्धि वृद्धि समृद्धि विधि निधि
        अवधि संधि सन्धि परिधि राशि अग्नि ध्वनि मुनि ऋषि कवि रवि छवि हानि कृषि रुचि तिथि अतिथि भूमि हरि गिरि क्षति
        पूर्ति मूर्ति कीर्ति संपत्ति सम्पत्ति विपत्ति आपत्ति उत्पत्ति अनुमति सहमति स्वीकृति प्रवृत्ति वृत्ति उपस्थिति परिस्थिति
        अभिव्यक्ति नियुक्ति पंक्ति मणि सुधि
        """.split(whereSeparator: \.isWhitespace).map(String.init))
}
