import Coordinator
import Foundation

/// Which espeak-ng voice speaks a page: the upload's `voice`, else its `language`, else the
/// page's script.
public enum VoiceChoice {
    public static func voice(for job: PageJob) -> String {
        if let voice = job.voice?.trimmingCharacters(in: .whitespaces), !voice.isEmpty { return voice }
        switch job.language?.lowercased() {
        case "hindi": return "hi"
        case "english": return "en"
        case "marathi": return "mr"
        case nil, "", "hinglish": return voice(forScriptOf: job.text)
        case let code?: return code
        }
    }

    /// Mostly Devanagari → Hindi, otherwise English.
    public static func voice(forScriptOf text: String) -> String {
        var devanagari = 0
        var latin = 0
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0900...0x097F, 0xA8E0...0xA8FF: devanagari += 1
            case 0x41...0x5A, 0x61...0x7A, 0xC0...0x24F: latin += 1
            default: break
            }
        }
        return devanagari > latin ? "hi" : "en"
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
