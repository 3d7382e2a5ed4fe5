import CTesseract
import Foundation
import Synchronization

/// Page images to text with Tesseract's C API.
///
/// Measured on a 300 dpi page: loading a model costs about as much as reading a page, so engines
/// are kept and reused, one per thread at a time, per language set. Tesseract's OpenMP threads
/// spin and made a page 5-9× slower next to other work; OpenMP reads `OMP_THREAD_LIMIT` when it
/// loads, so the `lector worker` process makes sure it is set before it starts (see
/// `OpenMPSetting`); setting it here only helps a process whose OpenMP has not started yet.
public final class TextRecognizer: Sendable {
    public static let shared = TextRecognizer()

    private let queue = DispatchQueue(label: "lector.tesseract", attributes: .concurrent)
    /// Idle engines by language set; an engine is in here or in the hands of exactly one thread.
    private let idle = Mutex<[String: [Engine]]>([:])

    /// One TessBaseAPI; moved between threads only through `idle`, never shared.
    private struct Engine: @unchecked Sendable {  // owned by one thread at a time, handed over under `idle`'s lock
        let handle: OpaquePointer
    }

    private init() {
        setenv("OMP_THREAD_LIMIT", "1", 0)
    }

    /// Tesseract's language set for a book's `language`: Hindi and Marathi books also read
    /// English (they quote it), and a book of unknown language reads both Hindi and English,
    /// which on English pages gives the same words as English alone, 25 % slower.
    public static func languages(for language: String?) -> String {
        switch language?.lowercased() {
        case "english", "en": "eng"
        case "marathi", "mr": "mar+eng"
        default: "hin+eng"
        }
    }

    /// The text Tesseract reads in `png`, "" when it finds none.
    /// A read that would start past `deadline` (it waited behind others) is given up.
    public func recognize(png: Data, languages: String, dpi: Int = 300, deadline: ContinuousClock.Instant? = nil)
        async throws -> String
    {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                if let deadline, ContinuousClock.now >= deadline {
                    continuation.resume(throwing: SpeechError.abandoned)
                    return
                }
                continuation.resume(with: Result { try self.recognizeNow(png: png, languages: languages, dpi: dpi) })
            }
        }
    }

    func recognizeNow(png: Data, languages: String, dpi: Int) throws(OCRError) -> String {
        // Leptonica would allocate whatever the header claims: a few bytes of PNG can say 10⁹ pixels.
        guard let size = Self.pngSize(png), size.width > 0, size.height > 0,
            size.width * size.height <= Self.maxPixels
        else { throw .unreadableImage }
        let engine = try checkOut(languages)
        defer { checkIn(engine, languages) }
        var pix: UnsafeMutablePointer<PIX>? = png.withUnsafeBytes {
            pixReadMem($0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count)
        }
        guard pix != nil else { throw .unreadableImage }
        defer { pixDestroy(&pix) }
        TessBaseAPISetImage2(engine.handle, pix)
        TessBaseAPISetSourceResolution(engine.handle, Int32(dpi))
        defer { TessBaseAPIClear(engine.handle) }
        guard let text = TessBaseAPIGetUTF8Text(engine.handle) else { throw .recognitionFailed }
        defer { TessDeleteText(text) }
        return String(cString: text)
    }

    private func checkOut(_ languages: String) throws(OCRError) -> Engine {
        if let engine = idle.withLock({ $0[languages]?.popLast() }) { return engine }
        guard let handle = TessBaseAPICreate() else { throw .engineUnavailable(languages) }
        guard TessBaseAPIInit3(handle, nil, languages) == 0 else {
            TessBaseAPIDelete(handle)
            throw .engineUnavailable(languages)
        }
        return Engine(handle: handle)
    }

    private func checkIn(_ engine: Engine, _ languages: String) {
        idle.withLock { $0[languages, default: []].append(engine) }
    }
}

extension TextRecognizer {
    /// The most pixels a page image may have (a 300 dpi A3 page is 17.4 M).
    static let maxPixels = 50_000_000

    /// Width and height from a PNG's IHDR chunk, or nil when the bytes do not start like a PNG.
    static func pngSize(_ png: Data) -> (width: Int, height: Int)? {
        let bytes = [UInt8](png.prefix(24))
        let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        guard bytes.count == 24, Array(bytes[0..<8]) == signature, Array(bytes[12..<16]) == Array("IHDR".utf8)
        else { return nil }
        func big(_ at: Int) -> Int { bytes[at..<at + 4].reduce(0) { $0 << 8 | Int($1) } }
        return (big(16), big(20))
    }
}

public enum OCRError: Error, Equatable, CustomStringConvertible {
    case engineUnavailable(String)
    case unreadableImage
    case recognitionFailed
    /// The helper process running Tesseract failed or crashed on the page.
    case helperFailed(String)

    public var description: String {
        switch self {
        case .engineUnavailable(let languages):
            "Tesseract cannot load the languages \(languages) (install tesseract-ocr-eng, -hin, -mar)"
        case .unreadableImage: "the page image could not be decoded"
        case .recognitionFailed: "Tesseract returned no result"
        case .helperFailed(let reason): "OCR failed: \(reason)"
        }
    }
}
