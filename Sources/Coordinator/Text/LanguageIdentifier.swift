import CTextcat
import Foundation
import Synchronization

/// The language of a page's text, from libexttextcat's n-gram fingerprints.
///
/// Only languages Lector can voice are candidates: with all 160 of libexttextcat's, short English
/// pages come out as Scots or Tsonga. A text too short to tell, or one textcat finds two languages
/// equally likely in, gets nil, and the caller falls back to the script rule.
public final class LanguageIdentifier: Sendable {
    /// nil when libexttextcat's data is not installed; identification then always gives nil.
    public static let shared = LanguageIdentifier()

    /// ISO 639-1 codes that are both a textcat fingerprint and an espeak-ng voice of that name.
    public static let candidates = [
        "en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "nb", "fi", "pl", "cs", "sk", "ro", "hu", "tr", "ca",
        "hr", "sl", "id", "af", "hi", "mr", "ne",
    ]
    /// Fewer letters than this and textcat guesses; 100 is about two lines.
    public static let minimumLetters = 100
    /// Only this much of a page is looked at: enough to tell, and a bound on what the C library sees.
    static let maximumBytes = 4096

    private struct Handle: @unchecked Sendable {  // used only inside `handle`'s lock: textcat keeps state per call
        let pointer: UnsafeMutableRawPointer
    }
    private let handle: Mutex<Handle?>

    init(directory: String = "/usr/share/libexttextcat/") {
        handle = Mutex(Self.open(directory: directory).map(Handle.init))
    }

    /// textcat reads its list of fingerprints from a file; ours names only the candidates.
    private static func open(directory: String) -> UnsafeMutableRawPointer? {
        let available = candidates.filter { FileManager.default.fileExists(atPath: directory + $0 + ".lm") }
        guard !available.isEmpty else { return nil }
        let list = FileManager.default.temporaryDirectory
            .appendingPathComponent("lector-textcat-\(getpid())-\(UUID().uuidString).conf")
        defer { try? FileManager.default.removeItem(at: list) }
        do {
            try available.map { "\($0).lm \($0)" }.joined(separator: "\n").appending("\n")
                .write(to: list, atomically: true, encoding: .utf8)
        } catch {
            return nil
        }
        return special_textcat_Init(list.path, directory)
    }

    public var isAvailable: Bool { handle.withLock { $0 != nil } }

    /// The language code of `text`, or nil when it is short, ambiguous or in none of the candidates.
    public func identify(_ text: String) -> String? {
        var letters = 0
        for scalar in text.unicodeScalars where scalar.properties.isAlphabetic {
            letters += 1
            if letters >= Self.minimumLetters { break }
        }
        guard letters >= Self.minimumLetters else { return nil }
        // Cut at a character boundary, so the library sees valid UTF-8 only.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.maximumBytes)
        for scalar in text.unicodeScalars {
            let encoded = Array(String(scalar).utf8)
            if bytes.count + encoded.count > Self.maximumBytes { break }
            bytes.append(contentsOf: encoded)
        }
        let answer: String? = handle.withLock { handle in
            guard let handle else { return nil }
            return bytes.withUnsafeBufferPointer { buffer in
                buffer.baseAddress.flatMap { base in
                    base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
                        textcat_Classify(handle.pointer, $0, buffer.count).map { String(cString: $0) }
                    }
                }
            }
        }
        // "[fr]" when one language stands out; "[fr][it]", "SHORT" or "UNKNOWN" otherwise.
        guard let answer, answer.hasPrefix("["), answer.hasSuffix("]") else { return nil }
        let names = answer.dropFirst().dropLast().components(separatedBy: "][")
        guard names.count == 1, let code = names.first, Self.candidates.contains(code) else { return nil }
        return code
    }

    deinit {
        handle.withLock { handle in
            if let handle { textcat_Done(handle.pointer) }
        }
    }
}
