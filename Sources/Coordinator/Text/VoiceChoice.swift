import Foundation

/// Which espeak-ng voice speaks a page, and in which language: the upload's `voice`, else its
/// `language`, else the language `LanguageIdentifier` finds in the text (a French page gets `fr`),
/// else the page's script (for text too short or mixed to tell).
public enum VoiceChoice {
    public static func voice(for job: PageJob) -> String {
        choose(for: job, identified: nil).voice
    }

    /// The voice and the language code shown on the page. `identified` is a language already
    /// found for the text (by OCR); otherwise the text is identified here.
    public static func choose(for job: PageJob, identified: String?) -> (voice: String, language: String) {
        let named = languageCode(job.language)
        if let voice = job.voice?.trimmingCharacters(in: .whitespaces), !voice.isEmpty {
            return (voice, named ?? String(voice.prefix { $0 != "-" }).lowercased())
        }
        if let named { return (named, named) }
        let script = voice(forScriptOf: job.text)
        // Trusted only within the script most letters are in: Latin, or Devanagari.
        if let code = identified ?? LanguageIdentifier.shared.identify(job.text),
            LanguageIdentifier.candidates.contains(code),
            script == (["hi", "mr", "ne"].contains(code) ? "hi" : "en")
        {
            return (code, code)
        }
        return (script, script)
    }

    /// A book's `language` as a voice code; nil for none or for `hinglish` (the script decides).
    static func languageCode(_ language: String?) -> String? {
        switch language?.lowercased().trimmingCharacters(in: .whitespaces) {
        case "hindi": "hi"
        case "english": "en"
        case "marathi": "mr"
        case "nepali": "ne"
        case "urdu": "ur"
        case "french": "fr"
        case "german": "de"
        case "spanish": "es"
        case nil, "", "hinglish": nil
        case let code?: code
        }
    }

    /// The voice of the script most of the page's letters are in: Devanagari → Hindi, Latin and
    /// pages without letters → English, and the other scripts espeak-ng can read → their main
    /// language. Arabic script is Urdu when it has Urdu's own letters.
    public static func voice(forScriptOf text: String) -> String {
        var counts: [String: Int] = [:]
        var urduLetters = 0
        for scalar in text.unicodeScalars {
            guard let voice = scriptVoice(scalar) else { continue }
            counts[voice, default: 0] += 1
            if [0x0679, 0x0688, 0x0691, 0x06BA, 0x06BE, 0x06C1, 0x06D2].contains(scalar.value) { urduLetters += 1 }
        }
        // Ties go to the first in this order, so a page of digits and nothing else stays English.
        let order = [
            "hi", "en", "bn", "pa", "gu", "or", "ta", "te", "kn", "ml", "ar", "ru", "el", "he", "cmn", "ja", "ko", "th",
        ]
        guard let best = order.max(by: { counts[$0, default: 0] < counts[$1, default: 0] }),
            counts[best, default: 0] > 0
        else { return "en" }
        if best == "ar" && urduLetters > 0 { return "ur" }
        return best
    }

    /// The espeak-ng voice for a letter's script; nil for digits, punctuation and marks of no script.
    static func scriptVoice(_ scalar: Unicode.Scalar) -> String? {
        switch scalar.value {
        case 0x0900...0x097F, 0xA8E0...0xA8FF: "hi"
        case 0x41...0x5A, 0x61...0x7A, 0xC0...0x24F, 0x1E00...0x1EFF: "en"
        case 0x0980...0x09FF: "bn"
        case 0x0A00...0x0A7F: "pa"
        case 0x0A80...0x0AFF: "gu"
        case 0x0B00...0x0B7F: "or"
        case 0x0B80...0x0BFF: "ta"
        case 0x0C00...0x0C7F: "te"
        case 0x0C80...0x0CFF: "kn"
        case 0x0D00...0x0D7F: "ml"
        case 0x0600...0x06FF, 0x0750...0x077F: "ar"
        case 0x0400...0x04FF: "ru"
        case 0x0370...0x03FF: "el"
        case 0x0590...0x05FF: "he"
        case 0x4E00...0x9FFF, 0x3400...0x4DBF: "cmn"
        case 0x3040...0x30FF: "ja"
        case 0xAC00...0xD7AF, 0x1100...0x11FF: "ko"
        case 0x0E00...0x0E7F: "th"
        default: nil
        }
    }

    /// True when the text has anything to pronounce at all.
    public static func isSpeakable(_ text: String) -> Bool {
        text.unicodeScalars.contains {
            CharacterSet.letters.contains($0) || CharacterSet.decimalDigits.contains($0)
        }
    }

    /// Whitespace folded, and no space left before a combining mark (poppler puts some there in
    /// shaped Hindi text, and espeak-ng then reads the mark on its own).
    public static func prepare(_ text: String) -> String {
        var scalars = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in text.unicodeScalars {
            if scalar.properties.isWhitespace {
                pendingSpace = !scalars.isEmpty
                continue
            }
            if pendingSpace {
                let category = scalar.properties.generalCategory
                if category != .nonspacingMark && category != .spacingMark { scalars.append(" ") }
                pendingSpace = false
            }
            scalars.append(scalar)
        }
        return String(scalars)
    }
}
