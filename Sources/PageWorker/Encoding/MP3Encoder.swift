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
    static let queue = DispatchQueue(label: "lector.lame", attributes: .concurrent)

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

    /// A LAME encoder for mono speech at `sampleRate`, set up as every Lector MP3 is.
    static func makeLAME(sampleRate: Int, settings: MP3Settings) throws(SpeechError) -> OpaquePointer {
        guard sampleRate > 0, sampleRate <= 384_000 else {
            throw .encodingFailed("the audio has no usable sample rate")
        }
        guard let lame = lame_init() else { throw .encodingFailed("lame_init failed") }
        lame_set_num_channels(lame, 1)
        lame_set_mode(lame, MONO)
        lame_set_in_samplerate(lame, Int32(sampleRate))
        // Left to itself LAME picks the output rate from the bit rate: 22.05 kHz at 32-48 kb/s,
        // but 16 kHz at 24 kb/s and below, resampling at a cost and losing the top of the
        // spectrum. Pinned to the input, a lower bit rate can never resample unnoticed.
        lame_set_out_samplerate(lame, Int32(sampleRate))
        lame_set_brate(lame, Int32(settings.bitrateKbps))
        lame_set_quality(lame, Int32(settings.quality))
        // No ID3 tags: the file is one page of a book, named and described by the API.
        lame_set_write_id3tag_automatic(lame, 0)
        guard lame_init_params(lame) >= 0 else {
            lame_close(lame)
            throw .encodingFailed(
                "LAME rejected \(settings.bitrateKbps) kb/s, quality \(settings.quality) at \(sampleRate) Hz")
        }
        return lame
    }

    /// The encode itself, on the calling thread.
    static func encodeNow(
        _ audio: PCMAudio, settings: MP3Settings, deadline: ContinuousClock.Instant? = nil,
        flag: CancellationFlag? = nil
    ) throws(SpeechError) -> Data {
        let lame = try makeLAME(sampleRate: audio.sampleRate, settings: settings)
        defer { lame_close(lame) }

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
        guard size > 0, size <= mp3.count else {
            writeInfoTag(into: &mp3)
            return
        }
        var tag = [UInt8](repeating: 0, count: size)
        guard lame_get_lametag_frame(lame, &tag, size) == size else { return }
        mp3.replaceSubrange(0..<size, with: tag)
    }

    /// Where LAME's tag does not fit (LAME then reserves no frame for it), a frame holding a Xing
    /// "Info" header of our own goes in front: the audio's frame and byte counts, which is what a
    /// player reading the start of the file needs to know its duration without reading it all.
    /// Players that do not know the header decode it as one frame of silence.
    static func writeInfoTag(into mp3: inout Data) {
        guard var info = infoFrame(like: mp3, counts: nil) else { return }
        mp3.insert(contentsOf: info, at: mp3.startIndex)
        info =
            infoFrame(like: mp3.dropFirst(info.count), counts: (frames(in: mp3, from: info.count), mp3.count)) ?? info
        mp3.replaceSubrange(mp3.startIndex..<(mp3.startIndex + info.count), with: info)
    }

    /// The number of whole frames in `mp3` from `offset` on.
    static func frames(in mp3: Data, from offset: Int) -> Int {
        var frames = 0
        var offset = offset
        while let size = frameSize(mp3, at: offset), offset + size <= mp3.count {
            frames += 1
            offset += size
        }
        return frames
    }

    /// A frame holding a Xing "Info" header, shaped like the first frame of `audio` (version,
    /// rate, bit rate, mode; no padding). With `counts` nil its flags say it has no counts: the
    /// placeholder a stream starts with, before its length is known.
    static func infoFrame(like audio: Data, counts: (frames: Int, bytes: Int)?) -> Data? {
        guard audio.count >= 4, frameSize(audio, at: 0) != nil else { return nil }
        var header = [UInt8](audio.prefix(4))
        header[2] &= ~0x02
        var info = Data(header)
        guard let size = frameSize(info + Data(count: 4), at: 0) else { return nil }
        let mpeg1 = header[1] & 0x08 != 0
        let mono = header[3] >> 6 == 3
        // Side information (all zero here): 17 bytes for MPEG-1 mono, 32 stereo; 9 and 17 for MPEG-2.
        let sideInfo = mpeg1 ? (mono ? 17 : 32) : (mono ? 9 : 17)
        guard 4 + sideInfo + 16 <= size else { return nil }
        func big(_ value: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(clamping: value).bigEndian) { Array($0) } }
        info.append(Data(count: sideInfo))
        if let counts {
            info.append(contentsOf: Array("Info".utf8) + big(0x3) + big(counts.frames) + big(counts.bytes))
        } else {
            info.append(contentsOf: Array("Info".utf8) + big(0))
        }
        info.append(Data(count: size - info.count))
        return info
    }

    /// The size of the MPEG audio frame whose header starts at `offset`, nil when none does.
    static func frameSize(_ mp3: Data, at offset: Int) -> Int? {
        guard offset >= 0, offset + 4 <= mp3.count else { return nil }
        let base = mp3.startIndex + offset
        let b1 = mp3[base + 1]
        let b2 = mp3[base + 2]
        guard mp3[base] == 0xFF, b1 & 0xE0 == 0xE0, b1 & 0x06 == 0x02 else { return nil }  // Layer III
        let version = (b1 >> 3) & 0x03  // 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5
        guard version != 1 else { return nil }
        let bitrates: [Int] =
            version == 3
            ? [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0]
            : [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0]
        let rates: [Int] =
            version == 3 ? [44100, 48000, 32000] : version == 2 ? [22050, 24000, 16000] : [11025, 12000, 8000]
        let bitrate = bitrates[Int(b2 >> 4)] * 1000
        let rateIndex = Int((b2 >> 2) & 0x03)
        guard bitrate > 0, rateIndex < 3 else { return nil }
        let padding = Int((b2 >> 1) & 0x01)
        let size = (version == 3 ? 144 : 72) * bitrate / rates[rateIndex] + padding
        return size > 4 ? size : nil
    }
}
