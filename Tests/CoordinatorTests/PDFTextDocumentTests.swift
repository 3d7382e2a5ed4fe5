import Foundation
import Testing

@testable import Coordinator

func fixture(_ name: String) -> URL {
    Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "pdf")!
}

@Suite("PDF text through poppler")
struct PDFTextDocumentTests {
    @Test func englishSampleHasEightPagesOfProse() throws {
        let document = try PDFTextDocument.open(contentsOf: fixture("english-8p"))
        #expect(document.pageCount == 8)
        let first = try document.text(ofPage: 1)
        #expect(first.count > 2000)
        #expect(
            first.contains("GNU GENERAL PUBLIC LICENSE") || first.contains("General Public License"))
    }

    @Test func hindiSampleIsDevanagari() throws {
        let document = try PDFTextDocument.open(contentsOf: fixture("hindi-8p"))
        #expect(document.pageCount == 8)
        let text = try document.text(ofPage: 1)
        let devanagari = text.unicodeScalars.filter { (0x0900...0x097F).contains($0.value) }.count
        #expect(devanagari > 500)
    }

    @Test func blankAndScannedPagesGiveEmptyText() throws {
        let mixed = try PDFTextDocument.open(contentsOf: fixture("mixed-3p"))
        #expect(mixed.pageCount == 3)
        #expect(try mixed.text(ofPage: 3).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        let scanned = try PDFTextDocument.open(contentsOf: fixture("scanned-2p"))
        #expect(try scanned.text(ofPage: 1).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
    }

    @Test func badFilesAreTold() throws {
        #expect(throws: PDFError.encrypted) {
            try PDFTextDocument.open(contentsOf: fixture("encrypted"))
        }
        #expect(throws: PDFError.notPDF) { try PDFTextDocument.open(contentsOf: fixture("not-a-pdf")) }
        #expect(throws: PDFError.empty) { try PDFTextDocument.open(data: Data()) }
        do {
            _ = try PDFTextDocument.open(contentsOf: fixture("truncated"))
            Issue.record("a truncated PDF opened")
        } catch {
            guard case .damaged = error else {
                Issue.record("unexpected \(error)")
                return
            }
        }
        let document = try PDFTextDocument.open(contentsOf: fixture("english-8p"))
        #expect(throws: PDFError.pageUnreadable(9)) { try document.text(ofPage: 9) }
    }

    @Test func pagesCanBeReadFromSeveralThreads() async throws {
        let document = try PDFTextDocument.open(contentsOf: fixture("english-40p"))
        let lengths = try await withThrowingTaskGroup(of: Int.self) { group in
            for page in 1...document.pageCount {
                group.addTask { try document.text(ofPage: page).count }
            }
            return try await group.reduce(0, +)
        }
        #expect(lengths > 30_000)
    }
}
