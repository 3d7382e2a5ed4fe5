import Foundation

/// The payloads of `HelperPool` requests and answers. Decoded with every length checked: even a
/// helper's own parent is outside the helper's process.
public enum NativeRequests {
    /// `[flags u8][length u8][languages][dpi u16][png]`; languages "" lets the page decide, flag 1
    /// turns the page upright first.
    public struct OCR: Equatable, Sendable {
        public var languages: String?
        public var dpi: Int
        public var orientation: Bool
        public var png: Data

        public init(languages: String?, dpi: Int, orientation: Bool = true, png: Data) {
            self.languages = languages
            self.dpi = dpi
            self.orientation = orientation
            self.png = png
        }

        public var encoded: Data {
            let name = Array((languages ?? "").utf8.prefix(255))
            var data = Data([orientation ? 1 : 0, UInt8(name.count)])
            data.append(contentsOf: name)
            data.append(contentsOf: withUnsafeBytes(of: UInt16(clamping: dpi).bigEndian) { Array($0) })
            data.append(png)
            return data
        }

        public init?(decoding data: Data) {
            let bytes = [UInt8](data)
            guard bytes.count >= 2, bytes[0] <= 1 else { return nil }
            let count = Int(bytes[1])
            guard bytes.count >= 2 + count + 2 else { return nil }
            orientation = bytes[0] == 1
            let name = String(decoding: bytes[2..<2 + count], as: UTF8.self)
            languages = name.isEmpty ? nil : name
            dpi = Int(bytes[2 + count]) << 8 | Int(bytes[3 + count])
            png = Data(bytes[(4 + count)...])
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

    /// A PDF to open or read: `[page u32][max pages u32][path]` (page 0 for `inspect`).
    public struct Document: Equatable, Sendable {
        public var pdf: String
        public var page: Int
        public var maxPages: Int

        public init(pdf: String, page: Int = 0, maxPages: Int = 5000) {
            self.pdf = pdf
            self.page = page
            self.maxPages = maxPages
        }

        public var encoded: Data {
            var data = Data(withUnsafeBytes(of: UInt32(clamping: page).bigEndian) { Array($0) })
            data.append(contentsOf: withUnsafeBytes(of: UInt32(clamping: maxPages).bigEndian) { Array($0) })
            data.append(contentsOf: Array(pdf.utf8))
            return data
        }

        public init?(decoding data: Data) {
            let bytes = [UInt8](data)
            guard bytes.count > 8 else { return nil }
            page = bytes[0..<4].reduce(0) { $0 << 8 | Int($1) }
            maxPages = bytes[4..<8].reduce(0) { $0 << 8 | Int($1) }
            pdf = String(decoding: bytes[8...], as: UTF8.self)
        }
    }

    /// An `inspect` answer: `[0][pages u32]`, or `[case][a u32][b u32][message]` for a `PDFError`.
    public static func encode(inspection: Result<Int, PDFError>) -> Data {
        func number(_ value: Int) -> [UInt8] { withUnsafeBytes(of: UInt32(clamping: value).bigEndian) { Array($0) } }
        switch inspection {
        case .success(let pages): return Data([0] + number(pages))
        case .failure(let error):
            let (tag, a, b, message): (UInt8, Int, Int, String) =
                switch error {
                case .empty: (1, 0, 0, "")
                case .notPDF: (2, 0, 0, "")
                case .encrypted: (3, 0, 0, "")
                case .damaged(let detail): (4, 0, 0, detail)
                case .noPages: (5, 0, 0, "")
                case .pageUnreadable(let page): (6, page, 0, "")
                case .tooManyPages(let count, let limit): (7, count, limit, "")
                case .badPageBox(let page): (8, page, 0, "")
                }
            return Data([tag] + number(a) + number(b) + Array(message.utf8))
        }
    }

    public static func decodeInspection(_ data: Data) -> Result<Int, PDFError>? {
        let bytes = [UInt8](data)
        guard let tag = bytes.first else { return nil }
        func number(_ at: Int) -> Int? {
            guard bytes.count >= at + 4 else { return nil }
            return bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) }
        }
        if tag == 0 { return number(1).map { .success($0) } }
        guard let a = number(1), let b = number(5) else { return nil }
        let message = String(decoding: bytes.dropFirst(9), as: UTF8.self)
        switch tag {
        case 1: return .failure(.empty)
        case 2: return .failure(.notPDF)
        case 3: return .failure(.encrypted)
        case 4: return .failure(.damaged(message))
        case 5: return .failure(.noPages)
        case 6: return .failure(.pageUnreadable(a))
        case 7: return .failure(.tooManyPages(a, limit: b))
        case 8: return .failure(.badPageBox(a))
        default: return nil
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
