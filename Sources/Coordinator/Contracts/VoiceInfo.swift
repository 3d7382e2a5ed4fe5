/// A voice a worker can speak with, as `/api/voices/` lists it.
public struct VoiceInfo: Codable, Sendable, Equatable, Hashable {
    /// What an upload's `voice` names: `joe`, `en`, `hi`, …
    public var name: String
    /// `piper` or `espeak-ng`.
    public var engine: String
    /// The language code it speaks.
    public var language: String
    /// `natural` (neural) or `fast`.
    public var quality: String
    public var sampleRate: Int

    public init(name: String, engine: String, language: String, quality: String, sampleRate: Int) {
        self.name = name
        self.engine = engine
        self.language = language
        self.quality = quality
        self.sampleRate = sampleRate
    }
}
