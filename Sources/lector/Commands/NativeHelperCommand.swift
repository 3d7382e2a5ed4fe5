import ArgumentParser
import Coordinator
import Foundation
import PageWorker

/// `lector native-helper`: the process a node runs poppler, cairo and Tesseract in (see
/// `HelperPool`). Reads one request frame at a time from stdin and answers on stdout until stdin
/// closes; a crash here costs only the page it was working on.
struct NativeHelperCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "native-helper", shouldDisplay: false)

    /// The largest request accepted (a page image, or a path).
    static let maxRequestBytes = 128 << 20

    func run() async throws {
        let input = FileHandle.standardInput
        let output = FileHandle.standardOutput
        var cache: OpenDocument?
        while let head = Self.read(5, from: input) {
            let length = head[1...4].reduce(0) { $0 << 8 | Int($1) }
            guard length <= Self.maxRequestBytes, let payload = Self.read(length, from: input) else { return }
            let answer: Result<Data, HelperError>
            switch head[0] {
            case 1: answer = await Self.ocr(payload)
            case 2: answer = Self.render(payload, cache: &cache)
            case 3: answer = Self.inspect(payload, cache: &cache)
            case 4: answer = Self.text(payload, cache: &cache)
            case 5: answer = Self.outline(payload, cache: &cache)
            default: answer = .failure(HelperError("unknown request \(head[0])"))
            }
            var frame = Data()
            let body: Data
            switch answer {
            case .success(let data):
                frame.append(0)
                body = data
            case .failure(let error):
                frame.append(1)
                body = Data(error.message.utf8)
            }
            frame.append(contentsOf: withUnsafeBytes(of: UInt32(body.count).bigEndian) { Array($0) })
            frame.append(body)
            try output.write(contentsOf: frame)
        }
    }

    static func ocr(_ payload: Data) async -> Result<Data, HelperError> {
        guard let request = NativeRequests.OCR(decoding: payload) else {
            return .failure(HelperError("bad OCR request"))
        }
        do {
            let reading = try await TextRecognizer.shared.read(
                png: request.png, languages: request.languages, dpi: request.dpi, orientation: request.orientation)
            return .success(try JSONEncoder().encode(reading))
        } catch {
            return .failure(HelperError("\(error)"))
        }
    }

    static func render(_ payload: Data, cache: inout OpenDocument?) -> Result<Data, HelperError> {
        guard let request = NativeRequests.Render(decoding: payload) else {
            return .failure(HelperError("bad render request"))
        }
        do {
            let document = try document(request.pdf, maxPages: .max, cache: &cache)
            let image = try document.render(page: request.page, dpi: Double(request.dpi))
            return .success(NativeRequests.encode(image))
        } catch {
            return .failure(HelperError("\(error)"))
        }
    }

    /// The document read last, kept for the next request: an upload's pages are read one by one.
    struct OpenDocument {
        var path: String
        var document: PDFTextDocument
    }

    static func document(_ path: String, maxPages: Int, cache: inout OpenDocument?) throws(PDFError) -> PDFTextDocument
    {
        if let cache, cache.path == path { return cache.document }
        let document = try PDFTextDocument.open(contentsOf: URL(fileURLWithPath: path), maxPages: maxPages)
        cache = OpenDocument(path: path, document: document)
        return document
    }

    static func inspect(_ payload: Data, cache: inout OpenDocument?) -> Result<Data, HelperError> {
        guard let request = NativeRequests.Document(decoding: payload) else {
            return .failure(HelperError("bad request"))
        }
        do throws(PDFError) {
            let document = try document(request.pdf, maxPages: request.maxPages, cache: &cache)
            return .success(NativeRequests.encode(inspection: .success(document.pageCount)))
        } catch {
            return .success(NativeRequests.encode(inspection: .failure(error)))
        }
    }

    static func text(_ payload: Data, cache: inout OpenDocument?) -> Result<Data, HelperError> {
        guard let request = NativeRequests.Document(decoding: payload) else {
            return .failure(HelperError("bad request"))
        }
        do {
            let document = try document(request.pdf, maxPages: .max, cache: &cache)
            return .success(Data(try document.text(ofPage: request.page).utf8))
        } catch {
            return .failure(HelperError("\(error)"))
        }
    }

    static func outline(_ payload: Data, cache: inout OpenDocument?) -> Result<Data, HelperError> {
        guard let request = NativeRequests.Document(decoding: payload) else {
            return .failure(HelperError("bad request"))
        }
        do {
            let document = try document(request.pdf, maxPages: .max, cache: &cache)
            return .success(try JSONEncoder().encode(document.chapters()))
        } catch {
            return .failure(HelperError("\(error)"))
        }
    }

    static func read(_ count: Int, from handle: FileHandle) -> Data? {
        var data = Data()
        while data.count < count {
            guard let chunk = try? handle.read(upToCount: count - data.count), !chunk.isEmpty else { return nil }
            data.append(chunk)
        }
        return data
    }
}

/// A request the helper could not do, with the message for the page's error.
struct HelperError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
