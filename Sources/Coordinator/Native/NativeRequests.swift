import Foundation

/// The payloads of `HelperPool` requests and answers. Decoded with every length checked: even a
/// helper's own parent is outside the helper's process.
public enum NativeRequests {
    public struct OCR: Equatable, Sendable {
        public var languages: String
        public var dpi: Int
        public var png: Data

        public init(languages: String, dpi: Int, png: Data) {
            self.languages = languages
            self.dpi = dpi
            self.png = png
        }

        public var encoded: Data {
            let name = Array(languages.utf8.prefix(255))
            var data = Data([UInt8(name.count)])
            data.append(contentsOf: name)
            data.append(contentsOf: withUnsafeBytes(of: UInt16(clamping: dpi).bigEndian) { Array($0) })
            data.append(png)
            return data
        }

        public init?(decoding data: Data) {
            let bytes = [UInt8](data)
            guard let count = bytes.first.map(Int.init), bytes.count >= 1 + count + 2 else { return nil }
            languages = String(decoding: bytes[1..<1 + count], as: UTF8.self)
            dpi = Int(bytes[1 + count]) << 8 | Int(bytes[2 + count])
            png = Data(bytes[(3 + count)...])
        }
    }

    public struct Render: Equatable, Sendable {
        public var pdf: String
        public var page: Int
        public var dpi: Int

        public init(pdf: String, page: Int, dpi: Int) {
            self.pdf = pdf
            self.page = page
            self.dpi = dpi
        }

        public var encoded: Data {
            var data = Data(withUnsafeBytes(of: UInt32(clamping: page).bigEndian) { Array($0) })
            data.append(contentsOf: withUnsafeBytes(of: UInt16(clamping: dpi).bigEndian) { Array($0) })
            data.append(contentsOf: Array(pdf.utf8))
            return data
        }

        public init?(decoding data: Data) {
            let bytes = [UInt8](data)
            guard bytes.count > 6 else { return nil }
            page = bytes[0..<4].reduce(0) { $0 << 8 | Int($1) }
            dpi = Int(bytes[4]) << 8 | Int(bytes[5])
            pdf = String(decoding: bytes[6...], as: UTF8.self)
        }
    }

    /// A rendered page: `[width u32][height u32][blank u8][png]`.
    public static func encode(_ image: PageImage) -> Data {
        var data = Data()
        data.append(contentsOf: withUnsafeBytes(of: UInt32(clamping: image.width).bigEndian) { Array($0) })
        data.append(contentsOf: withUnsafeBytes(of: UInt32(clamping: image.height).bigEndian) { Array($0) })
        data.append(image.isBlank ? 1 : 0)
        data.append(image.png)
        return data
    }

    public static func decodeImage(_ data: Data) -> PageImage? {
        let bytes = [UInt8](data)
        guard bytes.count > 9 else { return nil }
        let width = bytes[0..<4].reduce(0) { $0 << 8 | Int($1) }
        let height = bytes[4..<8].reduce(0) { $0 << 8 | Int($1) }
        return PageImage(png: Data(bytes[9...]), width: width, height: height, isBlank: bytes[8] == 1)
    }
}
