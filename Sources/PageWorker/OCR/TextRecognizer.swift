import CTesseract
import Coordinator
import Foundation
import Synchronization

/// Page images to text with Tesseract's C API: orientation and script by OSD, then the words with
/// their confidences (`PageReading`).
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

    /// Tesseract's packs for a book's `language`, nil when the uploader gave none (or gave one with
    /// no pack): the page's script and language decide then (`read`). Hindi and Marathi books also
    /// read English, which they quote.
    public static func languages(for language: String?) -> String? {
        switch language?.lowercased() {
        case "english", "en": "eng"
        case "marathi", "mr": "mar+eng"
        case "hindi", "hi": "hin+eng"
        case "french", "fr": "fra"
        case "german", "de": "deu"
        case "spanish", "es": "spa"
        default: nil
        }
    }

    /// The pack for a script OSD names, when no language is known yet.
    static func pack(forScript script: String?) -> String {
        script == "Devanagari" ? "hin" : "eng"
    }

    /// The pack for a language `LanguageIdentifier` found.
    static func pack(forLanguage code: String?) -> String? {
        switch code {
        case "en": "eng"
        case "fr": "fra"
        case "de": "deu"
        case "es": "spa"
        case "it": "ita"
        case "pt": "por"
        case "nl": "nld"
        case "hi": "hin"
        case "mr": "mar"
        case "ne": "nep"
        default: nil
        }
    }

    /// The language packs installed on this machine (`eng`, `hin`, …), which workers advertise.
    public static let installedPacks: Set<String> = {
        let directory =
            ProcessInfo.processInfo.environment["TESSDATA_PREFIX"] ?? "/usr/share/tesseract-ocr/5/tessdata"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return Set(names.filter { $0.hasSuffix(".traineddata") }.map { String($0.dropLast(".traineddata".count)) })
    }()

    static func installed(_ languages: String) -> Bool {
        languages.split(separator: "+").allSatisfy { installedPacks.contains(String($0)) }
    }

    /// Reads `png`: turned upright by OSD when `orientation` is set, then with `languages`, or when
    /// that is nil with the pack of the script OSD saw and then of the language read (a French
    /// scan is read with `eng` first, identified as French, and read again with `fra`). A read that
    /// would start past `deadline` (it waited behind others) is given up.
    public func read(
        png: Data, languages: String?, dpi: Int = 300, orientation: Bool = true,
        deadline: ContinuousClock.Instant? = nil
    ) async throws -> PageReading {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                if let deadline, ContinuousClock.now >= deadline {
                    continuation.resume(throwing: SpeechError.abandoned)
                    return
                }
                continuation.resume(
                    with: Result {
                        try self.readNow(png: png, languages: languages, dpi: dpi, orientation: orientation)
                    })
            }
        }
    }

    func readNow(png: Data, languages: String?, dpi: Int, orientation: Bool) throws(OCRError) -> PageReading {
        // Leptonica would allocate whatever the header claims: a few bytes of PNG can say 10⁹ pixels.
        guard let size = Self.pngSize(png), size.width > 0, size.height > 0,
            size.width <= Self.maxSide, size.height <= Self.maxSide, size.width * size.height <= Self.maxPixels
        else { throw .unreadableImage }
        var pix: UnsafeMutablePointer<PIX>? = png.withUnsafeBytes {
            pixReadMem($0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count)
        }
        guard pix != nil else { throw .unreadableImage }
        defer { pixDestroy(&pix) }
        let resolution = Int32(clamping: min(max(dpi, 30), 1200))

        var rotation = 0
        var script: String?
        if orientation, Self.installedPacks.contains("osd") {
            let found = try detectOrientation(pix, resolution: resolution)
            script = found.script
            // Leptonica turns clockwise by quarter turns; OSD says how far the text is turned.
            let quarters = (4 - found.degrees / 90) % 4
            if quarters != 0, let upright = pixRotateOrth(pix, Int32(quarters)) {
                pixDestroy(&pix)
                pix = upright
                rotation = quarters * 90
            }
        }
        let chosen = languages.flatMap { Self.installed($0) ? $0 : nil }
        var packs = chosen ?? Self.pack(forScript: script)
        var reading = PageReading(
            words: try recognize(pix, languages: packs, resolution: resolution), rotation: rotation, script: script,
            languages: packs)
        if chosen == nil {
            let language = LanguageIdentifier.shared.identify(reading.text)
            reading.language = language
            if reading.isReadable, let better = Self.pack(forLanguage: language), better != packs,
                Self.installed(better)
            {
                packs = better
                reading = PageReading(
                    words: try recognize(pix, languages: packs, resolution: resolution), rotation: rotation,
                    script: script, languages: packs)
                reading.language = language
            }
        }
        return reading
    }

    /// OSD's verdict: how far the page is turned clockwise (0, 90, 180, 270) and its script. A page
    /// with too little text for OSD counts as upright, script unknown.
    private func detectOrientation(_ pix: UnsafeMutablePointer<PIX>?, resolution: Int32) throws(OCRError)
        -> (degrees: Int, script: String?)
    {
        let engine = try checkOut("osd")
        defer { checkIn(engine, "osd") }
        TessBaseAPISetImage2(engine.handle, pix)
        TessBaseAPISetSourceResolution(engine.handle, resolution)
        defer { TessBaseAPIClear(engine.handle) }
        var degrees: Int32 = 0
        var confidence: Float = 0
        var name: UnsafePointer<CChar>?
        var scriptConfidence: Float = 0
        guard TessBaseAPIDetectOrientationScript(engine.handle, &degrees, &confidence, &name, &scriptConfidence) != 0
        else { return (0, nil) }
        let script = name.map { String(cString: $0) }
        // Below this OSD is guessing (a clear page of text gets about 15).
        guard confidence >= Self.minimumOrientationConfidence, [0, 90, 180, 270].contains(degrees) else {
            return (0, script)
        }
        return (Int(degrees), script)
    }

    /// Every word Tesseract finds, in reading order, with its confidence and whether it ends a line.
    private func recognize(_ pix: UnsafeMutablePointer<PIX>?, languages: String, resolution: Int32) throws(OCRError)
        -> [PageReading.Word]
    {
        let engine = try checkOut(languages)
        defer { checkIn(engine, languages) }
        TessBaseAPISetImage2(engine.handle, pix)
        TessBaseAPISetSourceResolution(engine.handle, resolution)
        defer { TessBaseAPIClear(engine.handle) }
        guard TessBaseAPIRecognize(engine.handle, nil) == 0 else { throw .recognitionFailed }
        guard let iterator = TessBaseAPIGetIterator(engine.handle) else { return [] }
        defer { TessResultIteratorDelete(iterator) }
        let layout = TessResultIteratorGetPageIterator(iterator)
        var words: [PageReading.Word] = []
        repeat {
            if let layout, !words.isEmpty, TessPageIteratorIsAtBeginningOf(layout, RIL_TEXTLINE) != 0 {
                words[words.count - 1].endsLine = true
            }
            guard let text = TessResultIteratorGetUTF8Text(iterator, RIL_WORD) else { continue }
            let word = String(cString: text)
            TessDeleteText(text)
            let confidence = Double(TessResultIteratorConfidence(iterator, RIL_WORD))
            guard !word.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { continue }
            words.append(PageReading.Word(text: word, confidence: confidence.isFinite ? confidence : 0))
        } while TessResultIteratorNext(iterator, RIL_WORD) != 0
        return words
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
    /// Cairo's and Leptonica's side limit.
    static let maxSide = 32_767
    /// OSD's orientation confidence below which a page is left as it is.
    static let minimumOrientationConfidence: Float = 2

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
