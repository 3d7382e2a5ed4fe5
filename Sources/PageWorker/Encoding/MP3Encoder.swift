import CLame
import Dispatch
import Foundation

/// LAME settings for speech.
public struct MP3Settings: Sendable, Equatable {
    public var bitrateKbps: Int
    /// LAME's algorithm quality, 0 (best, slowest) to 9 (worst, fastest).
    public var quality: Int

    public init(bitrateKbps: Int, quality: Int) {
        self.bitrateKbps = bitrateKbps
        self.quality = quality
    }

    /// 48 kb/s mono at quality 7: speech at espeak-ng's 22.05 kHz loses nothing audible at this rate,
    /// and quality 7 encodes in about a third of the default's time (see the README's Performance notes).
    public static let speech = MP3Settings(bitrateKbps: 48, quality: 7)
}

/// PCM to mono MP3 with LAME.
///
/// Encoding is most of a page's CPU time, and LAME encoders are independent of each other, so encodes
/// run in parallel on a concurrent queue (off Swift's cooperative pool, which they would block).
public enum MP3Encoder {
    private static let queue = DispatchQueue(label: "lector.lame", attributes: .concurrent)

    public static func encode(_ audio: PCMAudio, settings: MP3Settings = .speech) async throws -> Data {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try encodeNow(audio, settings: settings) })
            }
        }
    }

    static func encodeNow(_ audio: PCMAudio, settings: MP3Settings) throws -> Data {
        guard let lame = lame_init() else { throw SpeechError.encodingFailed("lame_init failed") }
        defer { lame_close(lame) }
        lame_set_num_channels(lame, 1)
        lame_set_in_samplerate(lame, Int32(audio.sampleRate))
        lame_set_out_samplerate(lame, Int32(audio.sampleRate))
        lame_set_mode(lame, MONO)
        lame_set_brate(lame, Int32(settings.bitrateKbps))
        lame_set_quality(lame, Int32(settings.quality))
        lame_set_write_id3tag_automatic(lame, 0)
        guard lame_init_params(lame) >= 0 else {
            throw SpeechError.encodingFailed("lame_init_params rejected the settings")
        }

        let count = audio.samples.count
        var output = [UInt8](repeating: 0, count: count + count / 4 + 7200)
        var written = 0
        try audio.samples.withUnsafeBufferPointer { pcm in
            try output.withUnsafeMutableBufferPointer { out in
                if count > 0 {
                    let mutablePCM = UnsafeMutablePointer(mutating: pcm.baseAddress!)
                    let result = lame_encode_buffer(
                        lame, mutablePCM, mutablePCM, Int32(count), out.baseAddress, Int32(out.count))
                    guard result >= 0 else {
                        throw SpeechError.encodingFailed("lame_encode_buffer returned \(result)")
                    }
                    written = Int(result)
                }
                let flushed = lame_encode_flush(
                    lame, out.baseAddress! + written, Int32(out.count - written))
                guard flushed >= 0 else {
                    throw SpeechError.encodingFailed("lame_encode_flush returned \(flushed)")
                }
                written += Int(flushed)
            }
        }
        return Data(output[0..<written])
    }
}
