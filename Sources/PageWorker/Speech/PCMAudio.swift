/// Mono 16-bit samples as espeak-ng produces them.
public struct PCMAudio: Sendable {
    public var samples: [Int16]
    public var sampleRate: Int

    public init(samples: [Int16], sampleRate: Int) {
        self.samples = samples
        self.sampleRate = sampleRate
    }

    /// Seconds of audio, from the sample count (not from the encoded file).
    public var duration: Double { sampleRate == 0 ? 0 : Double(samples.count) / Double(sampleRate) }
}
