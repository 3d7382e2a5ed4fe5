import Foundation
import Testing

@testable import Coordinator

/// The book side's own state: open uploads, their limits, and kept PDFs.
@Suite struct BookLibraryTests {
    static func library() -> (BookLibrary, URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("library-\(UUID().uuidString)")
        return (BookLibrary(uploadDirectory: folder), folder)
    }

    @Test func anUploadAbortedWhileItBecomesABookIsNotMadeOne() throws {
        var (library, folder) = Self.library()
        defer { try? FileManager.default.removeItem(at: folder) }
        let spool = try library.beginUpload().spool
        _ = try library.take(spool.id)
        library.discard(spool.id)  // the gateway gave up meanwhile
        #expect(library.finished(spool.id) == false)
        let other = try library.beginUpload().spool
        _ = try library.take(other.id)
        #expect(library.finished(other.id) == true)
        #expect(throws: LectorError.self) { _ = try library.spool(other.id) }
    }

    @Test func openUploadsAreBoundedAndAbandonedOnesDropped() throws {
        var (library, folder) = Self.library()
        defer { try? FileManager.default.removeItem(at: folder) }
        for _ in 0..<BookLibrary.maxOpenUploads { _ = try library.beginUpload() }
        #expect(throws: LectorError.self) { _ = try library.beginUpload() }
        let later = ContinuousClock.now + BookLibrary.abandonedAfter + .seconds(1)
        let (spool, dropped) = try library.beginUpload(now: later)
        #expect(dropped.count == BookLibrary.maxOpenUploads)
        #expect(library.uploads.count == 1)
        #expect(FileManager.default.fileExists(atPath: spool.url.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).count == 1)
    }

    @Test func keptPDFsAreBoundedOldestFirst() throws {
        var (library, _) = Self.library()
        let pdf = try Data(contentsOf: fixture("mixed-3p"))
        var opened = 0
        for book in Int64(1)...Int64(BookLibrary.maxOpenSources + 2) {
            _ = try library.source(book: book) {
                opened += 1
                return try PDFTextDocument.open(data: pdf)
            }
        }
        #expect(library.openSources == BookLibrary.maxOpenSources)
        _ = try library.source(book: Int64(BookLibrary.maxOpenSources + 2)) {
            Issue.record("reopened"); return try PDFTextDocument.open(data: pdf)
        }
        _ = try library.source(book: 1) {
            opened += 1; return try PDFTextDocument.open(data: pdf)
        }  // closed: reopened
        #expect(opened == BookLibrary.maxOpenSources + 3)
        library.closeSource(book: 1)
        #expect(library.openSources == BookLibrary.maxOpenSources - 1)
    }
}
