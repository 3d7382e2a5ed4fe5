import ClusterTransport
import Distributed
import Foundation

extension Coordinator {
    public distributed func beginUpload() throws -> String {
        // A stopped coordinator's next one may already have cleared the upload folder.
        guard !stopped else { throw LectorError.coordinatorChanged }
        let (spool, dropped) = try library.beginUpload()
        for id in dropped { logger.warning("dropping upload \(id): no data for ten minutes") }
        return spool.id
    }

    public distributed func appendUpload(_ uploadId: String, chunk: Data) throws {
        let spool = try spool(uploadId)
        guard spool.bytes + chunk.count <= settings.maxUploadBytes else {
            discard(uploadId)
            throw LectorError(
                status: 413, code: "file_too_large",
                message: "The upload is larger than the limit of \(settings.maxUploadBytes) bytes.")
        }
        try spool.append(chunk)
    }

    public distributed func abortUpload(_ uploadId: String) {
        discard(uploadId)
    }

    /// Checks the spooled file is a readable PDF, creating nothing. On any problem the upload is gone.
    public distributed func inspectUpload(_ uploadId: String) async throws -> UploadInspection {
        let spool = try spool(uploadId)
        spool.closeForReading()
        do {
            let reader = try await UploadReader.open(spool.url, maxPages: settings.maxPages, helpers: nativeHelpers)
            guard reader.pageCount > 0 else { throw PDFError.noPages }
            spool.reader = reader
            return UploadInspection(totalPages: reader.pageCount, bytes: spool.bytes)
        } catch {
            discard(uploadId)
            // The next coordinator on this node clears the upload folder as it starts, so a file
            // gone mid-way is a takeover, not a damaged PDF.
            if stopped { throw LectorError.coordinatorChanged }
            throw Self.lectorError(for: error)
        }
    }

    /// Extracts each page's text (reporting every page to `progress`), then creates the book and its
    /// pages in one transaction and queues a job per page.
    public distributed func finishUpload(
        _ uploadId: String, metadata: UploadMetadata, progress: ClusterActorID?
    ) async throws -> BookCreated {
        let spool = try spool(uploadId)
        if spool.reader == nil { _ = try await inspectUpload(uploadId) }
        guard let document = spool.reader else {
            throw LectorError.badRequest("The upload was not inspected.")
        }
        _ = try library.take(uploadId)
        defer { spool.discard() }

        let receiver = progress.flatMap {
            try? $UploadProgressReceiving.resolve(id: $0, using: actorSystem)
        }
        let pages = await Self.extractText(
            of: document, reportingTo: receiver, maxCharacters: settings.maxPageCharacters,
            language: metadata.language)
        // Aborted by its gateway (`abortUpload`), or its caller gave up and cancelled the call:
        // either way its client was told it failed, so no book may appear.
        guard library.finished(uploadId), !Task.isCancelled else {
            logger.warning("upload \(uploadId) was aborted by its gateway while its text was read; no book made")
            throw LectorError(
                status: 410, code: "upload_gone", message: "This upload was aborted; send the file again.")
        }
        let chapters = await document.chapters()
        let title = Self.title(from: metadata)
        let book: BookRecord
        do {
            book = try await store.createBook(title: title, metadata: metadata, pages: pages, chapters: chapters)
        } catch {
            // Deposed by a takeover: the database refused the book, so the client may send it again.
            if error is CoordinatorDeposed || stopped { throw LectorError.coordinatorChanged }
            // Nothing was made: the client may send the book again once the database is back.
            if store.isOutage(error) { throw LectorError.databaseUnavailable }
            throw error
        }
        let bookID = book.id!
        CoordinatorMetrics.uploads.increment()
        CoordinatorMetrics.uploadBytes.increment(by: spool.bytes)
        CoordinatorMetrics.books.increment()
        let scanned = pages.filter(\.needsOCR).map(\.number)
        let checked = pages.filter(\.checkWithOCR).map(\.number)
        if !checked.isEmpty {
            logger.info(
                "[OCR] Book \(bookID) - the text layer of pages \(checked.map(String.init).joined(separator: ", ")) is doubtful; each will be compared with OCR"
            )
        }
        if !scanned.isEmpty || !checked.isEmpty {
            // The pages to OCR are rendered from the PDF when their jobs go out, so it is kept.
            do {
                try await audioStore.keepSource(spool.url, book: bookID)
            } catch {
                logger.error("[OCR] cannot keep the PDF of book \(bookID): \(error); its scanned pages will fail")
            }
            for page in pages where page.needsOCR {
                logger.info(
                    "[OCR] Book \(bookID) - page \(page.number): \(page.ocrReason ?? "no usable text layer"); it will be read with OCR"
                )
            }
        }
        let readable = pages.filter { $0.unreadable == nil }
        logger.info("[AUDIO GENERATION] Queuing background tasks for \(readable.count) pages...")
        logger.info("[AUDIO GENERATION] Book ID: \(bookID)")
        await enqueue(readable.map { PageKey(book: bookID, page: $0.number) })
        for page in readable {
            logger.info(
                "[AUDIO TASK] Page \(page.number)/\(pages.count) - Task ID: \(UUID().uuidString.lowercased()) - Status: QUEUED"
            )
        }
        for page in pages where page.unreadable != nil {
            logger.warning(
                "[AUDIO TASK] Page \(page.number)/\(pages.count) - Status: FAILED - \(page.unreadable!)")
        }
        await pump()
        return BookCreated(bookId: bookID, title: title, totalPages: pages.count)
    }

    /// Runs off the actor: poppler takes milliseconds a page, and status calls must not wait on it.
    nonisolated static func extractText(
        of document: UploadReader, reportingTo receiver: (any UploadProgressReceiving)?, maxCharacters: Int,
        language: String? = nil
    ) async -> [NewPage] {
        var pages: [NewPage] = []
        pages.reserveCapacity(document.pageCount)
        for number in 1...document.pageCount {
            // A caller that gave up cancels this call: the rest of a slow, hostile PDF is not read.
            if Task.isCancelled { break }
            var page = NewPage(number: number, text: "", unreadable: nil)
            do {
                let raw = try await document.text(ofPage: number)
                // Loaded only once a Devanagari page needs it.
                let dictionary =
                    raw.unicodeScalars.contains(where: Devanagari.isDevanagari) ? DevanagariDictionary.hindi : nil
                page.text = bounded(
                    TextLayerCheck.repair(raw, language: language, dictionary: dictionary), limit: maxCharacters)
                switch TextLayerCheck.verdict(raw: raw, repaired: page.text, language: language, dictionary: dictionary)
                {
                case .voice: break
                case .ocr(let reason):
                    page.needsOCR = true
                    page.ocrReason = reason
                case .compare: page.checkWithOCR = true
                }
            } catch {
                page.unreadable = "Page \(number) could not be read from the PDF: \(error)"
            }
            pages.append(page)
            if let receiver {
                // A gateway that went away must not stop the book from being created.
                try? await receiver.textExtracted(
                    TextProgress(
                        currentPage: number, totalPages: document.pageCount,
                        chars: page.needsOCR ? 0 : page.text.unicodeScalars.count,
                        textSource: page.textSource))
            }
        }
        return pages
    }

    static func title(from metadata: UploadMetadata) -> String {
        if let title = metadata.title?.trimmingCharacters(in: .whitespacesAndNewlines), !title.isEmpty {
            return title
        }
        if let name = metadata.filename?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty {
            return name.lowercased().hasSuffix(".pdf") ? String(name.dropLast(4)) : name
        }
        return "Untitled"
    }

    static func lectorError(for error: any Error) -> LectorError {
        if let error = error as? LectorError { return error }
        guard let error = error as? PDFError else {
            return LectorError(
                status: 500, code: "internal_error", message: "The upload could not be read on the server.")
        }
        switch error {
        case .empty: return .badRequest("The uploaded file is empty.", code: "empty_file")
        case .notPDF: return LectorError(status: 415, code: "not_a_pdf", message: error.description)
        case .encrypted: return .unprocessable(error.description, code: "pdf_encrypted")
        case .noPages: return .unprocessable(error.description, code: "pdf_no_pages")
        case .damaged, .pageUnreadable: return .unprocessable(error.description, code: "pdf_damaged")
        case .tooManyPages: return .unprocessable(error.description, code: "too_many_pages")
        case .badPageBox: return .unprocessable(error.description, code: "pdf_damaged")
        }
    }

    /// The open upload `id`; none is, once this coordinator is stopped (its next one may
    /// have removed the file), and the client is told to send it again.
    func spool(_ id: String) throws -> UploadSpool {
        guard !stopped else {
            discard(id)
            throw LectorError.coordinatorChanged
        }
        return try library.spool(id)
    }

    func discard(_ id: String) {
        library.discard(id)
    }
}
