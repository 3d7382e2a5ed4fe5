import Foundation

/// Reads an MP3's frame headers to learn how long it plays, exactly: a CBR file's size only
/// estimates it, and chapter marks computed from estimates drift page after page.
enum MP3Frames {
    /// Seconds of audio in `data`: the samples of every frame but a Xing/Info tag frame.
    static func duration(of data: Data) -> Double {
        data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            var offset = id3v2Size(bytes)
            var samples = 0
            var rate = 0
            var first = true
            while offset + 4 <= bytes.count {
                guard let frame = header(bytes, at: offset) else {
                    offset += 1
                    continue
                }
                if !(first && isTagFrame(bytes, at: offset, frame: frame)) { samples += frame.samples }
                first = false
                rate = frame.sampleRate
                offset += frame.length
            }
            return rate == 0 ? 0 : Double(samples) / Double(rate)
        }
    }

    struct Header {
        var length: Int
        var samples: Int
        var sampleRate: Int
        var mpeg1: Bool
        var mono: Bool
    }

    static func header(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> Header? {
        let b1 = bytes[offset + 1]
        let b2 = bytes[offset + 2]
        guard bytes[offset] == 0xFF, b1 & 0xE0 == 0xE0 else { return nil }
        let version = (b1 >> 3) & 0x03  // 0: 2.5, 2: 2, 3: 1
        let layer = (b1 >> 1) & 0x03  // 1: layer III
        let bitrateIndex = Int(b2 >> 4)
        let rateIndex = Int((b2 >> 2) & 0x03)
        guard version != 1, layer == 1, bitrateIndex != 0, bitrateIndex != 15, rateIndex != 3 else { return nil }
        let mpeg1 = version == 3
        let kbps =
            mpeg1
            ? [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320][bitrateIndex]
            : [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160][bitrateIndex]
        let rates =
            version == 3 ? [44100, 48000, 32000] : version == 2 ? [22050, 24000, 16000] : [11025, 12000, 8000]
        let rate = rates[rateIndex]
        let padding = Int((b2 >> 1) & 0x01)
        let length = (mpeg1 ? 144 : 72) * kbps * 1000 / rate + padding
        let mono = (bytes[offset + 3] >> 6) == 3
        return Header(length: length, samples: mpeg1 ? 1152 : 576, sampleRate: rate, mpeg1: mpeg1, mono: mono)
    }

    /// A first frame holding "Xing" or "Info" after its side information is a tag, not audio.
    static func isTagFrame(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int, frame: Header) -> Bool {
        let sideInfo = frame.mpeg1 ? (frame.mono ? 17 : 32) : (frame.mono ? 9 : 17)
        let start = offset + 4 + sideInfo
        guard start + 4 <= bytes.count else { return false }
        let tag = String(decoding: bytes[start..<start + 4], as: UTF8.self)
        return tag == "Xing" || tag == "Info"
    }

    static func id3v2Size(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        guard bytes.count >= 10, bytes[0] == 0x49, bytes[1] == 0x44, bytes[2] == 0x33 else { return 0 }
        let size = (6..<10).reduce(0) { ($0 << 7) | Int(bytes[$1] & 0x7F) }
        return 10 + size
    }
}
