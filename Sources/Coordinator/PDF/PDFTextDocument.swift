import CPoppler
import Foundation
import Synchronization

/// One open poppler document, for its page count and each page's text.
///
/// Opened from memory with a NULL password: poppler 22.12 crashes on encrypted files opened from
/// memory with any non-NULL password. Poppler documents are not safe for concurrent use, so every
/// call goes through `lock`.
public final class PDFTextDocument: Sendable {
    /// The document and the bytes it reads from, which must outlive it.
    private struct Handles: @unchecked Sendable {  // only touched under `lock`
        var document: OpaquePointer
        var bytes: OpaquePointer
    }

    private let lock: Mutex<Handles>
    public let pageCount: Int

    public static func open(contentsOf url: URL) throws(PDFError) -> PDFTextDocument {
        let data: Data
        do {
            data = try Data(contentsOf: url, options: .alwaysMapped)
        } catch {
            throw .damaged("cannot read the file: \(error.localizedDescription)")
        }
        return try open(data: data)
    }

    public static func open(data: Data) throws(PDFError) -> PDFTextDocument {
        guard !data.isEmpty else { throw .empty }
        let head = data.prefix(1024)
        guard head.range(of: Data("%PDF-".utf8)) != nil else { throw .notPDF }
        let bytes = data.withUnsafeBytes { raw in g_bytes_new(raw.baseAddress, gsize(raw.count)) }!
        var error: UnsafeMutablePointer<GError>?
        guard let document = poppler_document_new_from_bytes(bytes, nil, &error) else {
            g_bytes_unref(bytes)
            defer { if error != nil { g_error_free(error) } }
            if let error, error.pointee.domain == poppler_error_quark(),
                error.pointee.code == Int32(POPPLER_ERROR_ENCRYPTED.rawValue)
            {
                throw .encrypted
            }
            throw .damaged(error.map { String(cString: $0.pointee.message) } ?? "unknown error")
        }
        let count = Int(poppler_document_get_n_pages(document))
        guard count > 0 else {
            g_object_unref(UnsafeMutableRawPointer(document))
            g_bytes_unref(bytes)
            throw .noPages
        }
        return PDFTextDocument(handles: Handles(document: document, bytes: bytes), pageCount: count)
    }

    private init(handles: Handles, pageCount: Int) {
        self.lock = Mutex(handles)
        self.pageCount = pageCount
    }

    deinit {
        lock.withLock { handles in
            g_object_unref(UnsafeMutableRawPointer(handles.document))
            g_bytes_unref(handles.bytes)
        }
    }

    /// The text of page `number` (1-based), as poppler lays it out.
    public func text(ofPage number: Int) throws(PDFError) -> String {
        guard (1...pageCount).contains(number) else { throw .pageUnreadable(number) }
        let text: String? = lock.withLock { handles in
            guard let page = poppler_document_get_page(handles.document, Int32(number - 1)) else {
                return nil
            }
            defer { g_object_unref(UnsafeMutableRawPointer(page)) }
            guard let raw = poppler_page_get_text(page) else { return "" }
            defer { g_free(raw) }
            return String(cString: raw)
        }
        guard let text else { throw .pageUnreadable(number) }
        return text
    }
}
