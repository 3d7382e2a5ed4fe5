import CPoppler
import Foundation
import Synchronization

/// One open poppler document, for its page count and each page's text.
///
/// Opened from memory with a NULL password: poppler 22.12 crashes on encrypted files opened from
/// memory with any non-NULL password, while a NULL one gives a clean `POPPLER_ERROR_ENCRYPTED`.
/// Poppler documents are not safe for concurrent use, so every call into one goes through `handles`.
public final class PDFTextDocument: Sendable {
    /// The document and the bytes it reads from, which must outlive it.
    struct Handles {
        var document: OpaquePointer
        var bytes: OpaquePointer
    }

    let handles: Mutex<Handles>
    /// Poppler's page index for each page number (slot 0 is page 1); nil for a page whose page
    /// object is broken. Built once at open, see `PDFPageTree`.
    let popplerIndex: [Int32?]

    /// The page count the PDF declares, broken pages included, so page numbers keep their meaning.
    public var pageCount: Int { popplerIndex.count }

    /// Maps the file rather than reading it, so a 100 MB book is not copied onto the heap; the
    /// GBytes keeps the mapping alive for as long as poppler needs it. Deleting the file meanwhile
    /// is fine, shrinking it is not (reading past the end of a mapping is SIGBUS): the upload spool
    /// is complete and closed before it is opened.
    ///
    /// A PDF declaring more than `maxPages` pages is refused before any page is looked at.
    public static func open(contentsOf url: URL, maxPages: Int = 5000) throws(PDFError) -> PDFTextDocument {
        var error: UnsafeMutablePointer<GError>?
        guard let mapped = g_mapped_file_new(url.path, 0, &error) else {
            if let error { g_error_free(error) }
            // GLib's message names the file's path, which is nobody's business outside.
            throw .damaged("cannot read the file")
        }
        let bytes = g_mapped_file_get_bytes(mapped)!
        g_mapped_file_unref(mapped)
        return try open(taking: bytes, maxPages: maxPages)
    }

    /// Copies `data` once into a GBytes, which owns it from then on.
    public static func open(data: Data, maxPages: Int = 5000) throws(PDFError) -> PDFTextDocument {
        let bytes = data.withUnsafeBytes { raw in g_bytes_new(raw.baseAddress, gsize(raw.count)) }!
        return try open(taking: bytes, maxPages: maxPages)
    }

    /// Takes over one reference to `bytes`: the document keeps it, or it is released on error.
    private static func open(taking bytes: sending OpaquePointer, maxPages: Int) throws(PDFError) -> PDFTextDocument {
        var size: gsize = 0
        let start = g_bytes_get_data(bytes, &size)
        // Checked before poppler: it reports empty input without an error, and a non-PDF as
        // "damaged", which would hide a wrong file type behind a broken-file message.
        guard let start, size > 0 else {
            g_bytes_unref(bytes)
            throw .empty
        }
        let head = UnsafeRawBufferPointer(start: start, count: min(Int(size), 1024))
        guard head.firstRange(of: Array("%PDF-".utf8)) != nil else {
            g_bytes_unref(bytes)
            throw .notPDF
        }

        var error: UnsafeMutablePointer<GError>?
        // NULL password only: see the type's comment.
        guard let document = poppler_document_new_from_bytes(bytes, nil, &error) else {
            g_bytes_unref(bytes)
            defer { if let error { g_error_free(error) } }
            if let error, error.pointee.domain == poppler_error_quark(),
                error.pointee.code == Int32(POPPLER_ERROR_ENCRYPTED.rawValue)
            {
                throw .encrypted
            }
            throw .damaged(message(of: error))
        }
        let declared = Int(poppler_document_get_n_pages(document))
        guard declared > 0 else {
            g_object_unref(UnsafeMutableRawPointer(document))
            g_bytes_unref(bytes)
            throw .noPages
        }
        guard declared <= maxPages else {
            g_object_unref(UnsafeMutableRawPointer(document))
            g_bytes_unref(bytes)
            throw .tooManyPages(declared, limit: maxPages)
        }
        let index = PDFPageTree.indexMap(of: document, declaredPages: declared)
        return PDFTextDocument(handles: Handles(document: document, bytes: bytes), popplerIndex: index)
    }

    private static func message(of error: UnsafeMutablePointer<GError>?) -> String {
        error?.pointee.message.map { String(cString: $0) } ?? "unknown error"
    }

    private init(handles: sending Handles, popplerIndex: [Int32?]) {
        self.handles = Mutex(handles)
        self.popplerIndex = popplerIndex
    }

    deinit {
        handles.withLock { handles in
            g_object_unref(UnsafeMutableRawPointer(handles.document))
            g_bytes_unref(handles.bytes)
        }
    }

    /// The text of page `number` (1-based), as poppler lays it out; "" for a page with no text
    /// layer (a scan), which callers tell apart from an unreadable page.
    public func text(ofPage number: Int) throws(PDFError) -> String {
        guard (1...pageCount).contains(number), let index = popplerIndex[number - 1] else {
            throw .pageUnreadable(number)
        }
        let text: String? = handles.withLock { handles in
            guard let page = poppler_document_get_page(handles.document, index) else { return nil }
            defer { g_object_unref(UnsafeMutableRawPointer(page)) }
            guard let raw = poppler_page_get_text(page) else { return "" }
            defer { g_free(raw) }
            return String(cString: raw)
        }
        guard let text else { throw .pageUnreadable(number) }
        return text
    }
}
