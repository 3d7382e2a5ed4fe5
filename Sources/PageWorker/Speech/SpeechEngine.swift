import Coordinator
import Foundation

/// Text to PCM. Each engine serialises its own native calls; callers may call from any task.
public protocol SpeechEngine: Sendable {
    var name: String { get }
    /// The voices it has on this machine.
    var voices: [VoiceInfo] { get }
    func synthesize(_ text: String, voice: String, deadline: ContinuousClock.Instant?) async throws -> PCMAudio
    /// A page's sentences in order, one PCM each.
    func synthesize(sentences: [String], voice: String, deadline: ContinuousClock.Instant?) async throws -> [PCMAudio]
}

extension SpeechEngine {
    public func synthesize(sentences: [String], voice: String, deadline: ContinuousClock.Instant?) async throws
        -> [PCMAudio]
    {
        var audio: [PCMAudio] = []
        for sentence in sentences { audio.append(try await synthesize(sentence, voice: voice, deadline: deadline)) }
        return audio
    }
}

/// espeak-ng: every language, fast, robotic.
public struct EspeakEngine: SpeechEngine {
    public let name = "espeak-ng"
    public let voices: [VoiceInfo]

    /// The languages Lector picks for pages (by language or script), as espeak-ng voices.
    static let offered = [
        "en", "fr", "de", "es", "it", "pt", "nl", "sv", "da", "nb", "fi", "pl", "cs", "sk", "ro", "hu", "tr",
        "ca", "hr", "sl", "id", "af", "hi", "mr", "ne", "ur", "bn", "pa", "gu", "or", "ta", "te", "kn", "ml", "ar",
        "ru", "el", "he", "cmn", "ja", "ko", "th",
    ]

    public init(sampleRate: Int = 22_050) {
        voices = Self.offered.map {
            VoiceInfo(name: $0, engine: "espeak-ng", language: $0, quality: "fast", sampleRate: sampleRate)
        }
    }

    public func synthesize(_ text: String, voice: String, deadline: ContinuousClock.Instant?) async throws
        -> PCMAudio
    {
        try await SpeechSynthesizer.shared.synthesize(text, voice: voice, deadline: deadline)
    }

    public func synthesize(sentences: [String], voice: String, deadline: ContinuousClock.Instant?) async throws
        -> [PCMAudio]
    {
        try await SpeechSynthesizer.shared.synthesize(sentences: sentences, voice: voice, deadline: deadline)
    }
}
