import CLame
import Dispatch
import Foundation

/// LAME settings for speech.
public struct MP3Settings: Sendable, Equatable {
    /// Constant bit rate in kb/s.
    public var bitrateKbps: Int
    /// LAME's algorithm quality, 0 (best, slowest) to 9 (worst, fastest).
    public var quality: Int

    public init(bitrateKbps: Int, quality: Int) {
        self.bitrateKbps = bitrateKbps
        self.quality = quality
    }

    /// 48 kb/s mono at quality 7 for espeak-ng's 22.05 kHz speech. Measured on a 3000-character
    /// page (172 s): quality 7 encodes in 0.24 s against 0.54 s at 3 and 0.82 s at 2, and decodes
    /// at least as close to the PCM (PESQ-WB 3.69 against 3.50 and 3.48, SNR 23 against 19 dB):
    /// the psychoacoustic model of the slower settings buys nothing on synthetic speech. LAME
    /// 3.100 gives byte-identical files at 7, 8 and 9.
    public static let speech = MP3Settings(bitrateKbps: 48, quality: 7)
}

/// PCM to mono MP3 with LAME.
public enum MP3Encoder {
    /// Encoding is most of a page's CPU time and LAME instances are independent, so encodes run
    /// side by side on this queue, off Swift's cooperative pool, which they would block. Dispatch
    /// caps the parallelism at the number of cores.
    private static let queue = DispatchQueue(label: "lector.lame", attributes: .concurrent)

    /// LAME encodes this many samples a call, so the output buffer stays small for any page.
    static let chunkSamples = 1 << 16

    /// Mono MP3 of `audio`. LAME instances are independent, so encodes run in parallel on a
    /// concurrent queue (not the cooperative pool, whose few threads they would hold for a
    /// quarter of a second each).
    /// Past `deadline` the encode stops between chunks and throws `.abandoned`.
    public static func encode(
        _ audio: PCMAudio, settings: MP3Settings = .speech, deadline: ContinuousClock.Instant? = nil
    ) async throws -> Data {
        try await CancellationFlag.whileRunning { flag in
            try await withCheckedThrowingContinuation { continuation in
                queue.async {
                    continuation.resume(
                        with: Result { try encodeNow(audio, settings: settings, deadline: deadline, flag: flag) })
                }
            }
        }
    }

    /// The encode itself, on the calling thread.
    static func encodeNow(
        _ audio: PCMAudio, settings: MP3Settings, deadline: ContinuousClock.Instant? = nil,
        flag: CancellationFlag? = nil
    ) throws(SpeechError) -> Data {
        guard audio.sampleRate > 0 else { throw .encodingFailed("the audio has no sample rate") }
        guard let lame = lame_init() else { throw .encodingFailed("lame_init failed") }
        defer { lame_close(lame) }
        lame_set_num_channels(lame, 1)
        lame_set_mode(lame, MONO)
        lame_set_in_samplerate(lame, Int32(audio.sampleRate))
        // Left to itself LAME picks the output rate from the bit rate: 22.05 kHz at 32-48 kb/s,
        // but 16 kHz at 24 kb/s and below, resampling at a cost and losing the top of the
        // spectrum. Pinned to the input, a lower bit rate can never resample unnoticed.
        lame_set_out_samplerate(lame, Int32(audio.sampleRate))
        lame_set_brate(lame, Int32(settings.bitrateKbps))
        lame_set_quality(lame, Int32(settings.quality))
        // No ID3 tags: the file is one page of a book, named and described by the API.
        lame_set_write_id3tag_automatic(lame, 0)
        guard lame_init_params(lame) >= 0 else {
            throw .encodingFailed(
                "LAME rejected \(settings.bitrateKbps) kb/s, quality \(settings.quality) at \(audio.sampleRate) Hz")
        }

        // LAME's documented worst case for n samples is 1.25·n + 7200 bytes.
        var scratch = [UInt8](repeating: 0, count: chunkSamples + chunkSamples / 4 + 7200)
        var mp3 = Data()
        mp3.reserveCapacity(audio.samples.count * settings.bitrateKbps * 125 / audio.sampleRate + 8192)
        try audio.samples.withUnsafeBufferPointer { pcm throws(SpeechError) in
            try scratch.withUnsafeMutableBufferPointer { out throws(SpeechError) in
                var start = 0
                while start < pcm.count {
                    if let deadline, ContinuousClock.now >= deadline { throw .abandoned }
                    if flag?.isCancelled == true { throw .abandoned }
                    let count = min(chunkSamples, pcm.count - start)
                    // Mono: LAME reads the left channel only.
                    let written = lame_encode_buffer(
                        lame, pcm.baseAddress! + start, nil, Int32(count), out.baseAddress, Int32(out.count))
                    guard written >= 0 else { throw .encodingFailed("lame_encode_buffer returned \(written)") }
                    mp3.append(out.baseAddress!, count: Int(written))
                    start += count
                }
                let flushed = lame_encode_flush(lame, out.baseAddress, Int32(out.count))
                guard flushed >= 0 else { throw .encodingFailed("lame_encode_flush returned \(flushed)") }
                mp3.append(out.baseAddress!, count: Int(flushed))
            }
        }
        writeLAMETag(lame, into: &mp3)
        return mp3
    }

    /// LAME starts the stream with an empty frame for the caller to replace with the LAME tag,
    /// which tells decoders the frame count and the encoder's delay and padding; left empty, it
    /// decodes as a frame of silence. At 48 kb/s and 22.05 kHz a frame (156 bytes) is too small
    /// for the tag, so LAME writes neither and decoders play the delay and padding (60 ms); from
    /// 64 kb/s on, the tag is written and the decoded length is exactly the input's.
    private static func writeLAMETag(_ lame: OpaquePointer, into mp3: inout Data) {
        let size = lame_get_lametag_frame(lame, nil, 0)
        guard size > 0, size <= mp3.count else { return }
        var tag = [UInt8](repeating: 0, count: size)
        guard lame_get_lametag_frame(lame, &tag, size) == size else { return }
        mp3.replaceSubrange(0..<size, with: tag)
    }
}
