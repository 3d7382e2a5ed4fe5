import Dispatch
import Foundation

extension Coordinator {
    /// Rendering holds a thread for a fraction of a second per page; it runs here, off the actor
    /// and off Swift's cooperative pool, one page at a time (the workers' OCR is the slow part).
    static let renderQueue = DispatchQueue(label: "lector.render")

    /// The image of a page to OCR, from the book's kept PDF.
    ///
    /// The page is marked `rendering` in the database first: if poppler or cairo takes the
    /// process down, the next start counts it against the page, which fails after a few.
    /// With a helper pool (`lector` nodes), poppler and cairo run in a helper process: a crash
    /// there fails this attempt of the page, and the coordinator goes on.
    func scanImage(_ key: PageKey) async throws -> PageImage {
        let started = ContinuousClock.now
        let image: PageImage
        let kept: URL?
        do {
            kept = try await audioStore.sourceFile(book: key.book)
        } catch {
            logger.error("[OCR] cannot fetch the kept PDF of book \(key.book): \(error)")
            throw Self.sourceMissing(book: key.book)
        }
        guard let source = kept else { throw Self.sourceMissing(book: key.book) }
        if let nativeHelpers {
            let request = NativeRequests.Render(pdf: source.path, page: key.page, dpi: 300)
            let answer: Data
            do {
                answer = try await nativeHelpers.request(.render, request.encoded, deadline: .now + .seconds(120))
            } catch let failure as HelperPool.Failure {
                logger.error("[OCR] Book \(key.book), Page \(key.page) - rendering failed: \(failure)")
                throw LectorError(
                    status: 500, code: "render_failed",
                    message: failure.crashed
                        ? "page \(key.page) crashed the PDF renderer and could not be drawn for OCR"
                        : failure.description)
            }
            guard let decoded = NativeRequests.decodeImage(answer) else {
                throw LectorError(status: 500, code: "render_failed", message: "the renderer's answer was not an image")
            }
            image = decoded
        } else {
            let document = try sourceDocument(book: key.book, at: source)
            try await store.setRendering(key, true)
            let rendered: Result<PageImage, PDFError> = await withCheckedContinuation { continuation in
                Self.renderQueue.async {
                    continuation.resume(
                        returning: Result { () throws(PDFError) in try document.render(page: key.page) })
                }
            }
            try? await store.setRendering(key, false)
            image = try rendered.get()
        }
        logger.info(
            "[OCR] Book \(key.book), Page \(key.page) - rendered \(image.width)×\(image.height) (\(image.png.count / 1024) KB) in \(ContinuousClock.now - started)\(image.isBlank ? "; blank" : "")"
        )
        return image
    }

    /// The open PDF of a book with pages to OCR; opened once and kept while its pages run.
    func sourceDocument(book: Int64, at url: URL) throws -> PDFTextDocument {
        do {
            return try library.source(book: book) { try PDFTextDocument.open(contentsOf: url) }
        } catch {
            logger.error("[OCR] cannot open the kept PDF of book \(book): \(error)")
            throw Self.sourceMissing(book: book)
        }
    }

    static func sourceMissing(book: Int64) -> LectorError {
        LectorError(
            status: 500, code: "source_missing",
            message: "The PDF of book \(book) is not on the coordinator any more, so its page cannot be read with OCR.")
    }

    /// The book needs its PDF no more (every page done, or the book deleted).
    func dropSource(book: Int64) async {
        library.closeSource(book: book)
        await audioStore.dropSource(book: book)
    }
}
