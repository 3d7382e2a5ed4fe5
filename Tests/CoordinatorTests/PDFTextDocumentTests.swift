import Foundation
import Testing

@testable import Coordinator

/// A sample PDF from the test bundle (copies of `shared/samples`, described in its README).
func fixture(_ name: String) -> URL {
    Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "pdf")!
}

/// Each page's text, or the error poppler gave for it.
private func pages(of document: PDFTextDocument) -> [Result<String, PDFError>] {
    (1...document.pageCount).map { number in Result { () throws(PDFError) in try document.text(ofPage: number) } }
}

/// Devanagari letters and signs, counted as scalars (graphemes would merge the signs).
private func devanagari(_ text: String) -> Int {
    text.unicodeScalars.filter { (0x0900...0x097F).contains($0.value) }.count
}

@Suite("PDF text through poppler")
struct PDFTextDocumentTests {
    @Test func englishSampleHasEightDistinctPagesOfProse() throws {
        let document = try PDFTextDocument.open(contentsOf: fixture("english-8p"))
        #expect(document.pageCount == 8)
        let texts = try (1...8).map { try document.text(ofPage: $0) }
        #expect(texts[0].hasPrefix("GNU GENERAL PUBLIC LICENSE"))
        for (index, text) in texts.enumerated() {
            #expect((2900...3100).contains(text.count), "page \(index + 1): \(text.count) characters")
        }
        #expect(Set(texts).count == 8)
    }

    @Test func memoryAndFileGiveTheSameText() throws {
        let data = try Data(contentsOf: fixture("english-8p"))
        let fromData = try PDFTextDocument.open(data: data)
        let fromFile = try PDFTextDocument.open(contentsOf: fixture("english-8p"))
        #expect(fromData.pageCount == fromFile.pageCount)
        for page in 1...fromData.pageCount {
            #expect(try fromData.text(ofPage: page) == fromFile.text(ofPage: page))
        }
    }

    @Test func hindiSampleIsDevanagari() throws {
        let document = try PDFTextDocument.open(contentsOf: fixture("hindi-8p"))
        #expect(document.pageCount == 8)
        for page in 1...8 {
            let text = try document.text(ofPage: page)
            #expect(devanagari(text) > 1500, "page \(page): \(devanagari(text)) Devanagari scalars")
        }
    }

    @Test func blankAndScannedPagesGiveEmptyText() throws {
        let mixed = try PDFTextDocument.open(contentsOf: fixture("mixed-3p"))
        #expect(mixed.pageCount == 3)
        let english = try mixed.text(ofPage: 1)
        #expect(english.count > 1000 && devanagari(english) == 0)
        #expect(devanagari(try mixed.text(ofPage: 2)) > 500)
        #expect(try mixed.text(ofPage: 3) == "")

        let scanned = try PDFTextDocument.open(contentsOf: fixture("scanned-2p"))
        #expect(scanned.pageCount == 2)
        #expect(try scanned.text(ofPage: 1) == "")
        #expect(try scanned.text(ofPage: 2) == "")
    }

    @Test func unusableFilesSayWhy() throws {
        #expect(throws: PDFError.encrypted) { try PDFTextDocument.open(contentsOf: fixture("encrypted")) }
        #expect(throws: PDFError.encrypted) {
            try PDFTextDocument.open(data: Data(contentsOf: fixture("encrypted")))
        }
        #expect(throws: PDFError.notPDF) { try PDFTextDocument.open(contentsOf: fixture("not-a-pdf")) }
        #expect(throws: PDFError.empty) { try PDFTextDocument.open(data: Data()) }
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("empty-\(UUID()).pdf")
        try Data().write(to: empty)
        defer { try? FileManager.default.removeItem(at: empty) }
        #expect(throws: PDFError.empty) { try PDFTextDocument.open(contentsOf: empty) }

        let error = #expect(throws: PDFError.self) { try PDFTextDocument.open(contentsOf: fixture("truncated")) }
        #expect(error == .damaged("PDF document is damaged"))
        #expect(
            PDFError.encrypted.description
                == "The PDF is encrypted and needs a password; upload an unprotected copy.")
    }

    @Test func signatureMustBeInTheFirstKilobyte() throws {
        let pdf = try Data(contentsOf: fixture("english-8p"))
        // Poppler itself reads PDFs with leading junk; the upload rule is the first 1024 bytes.
        let shortJunk = try PDFTextDocument.open(data: Data(repeating: 0x6A, count: 500) + pdf)
        #expect(shortJunk.pageCount == 8)
        #expect(try shortJunk.text(ofPage: 8) == PDFTextDocument.open(data: pdf).text(ofPage: 8))
        #expect(throws: PDFError.notPDF) { try PDFTextDocument.open(data: Data(repeating: 0x6A, count: 1100) + pdf) }
        // The signature alone is not a PDF: poppler's verdict then stands.
        let error = #expect(throws: PDFError.self) { try PDFTextDocument.open(data: Data("%PDF-1.7\nhello".utf8)) }
        guard case .damaged = error else {
            Issue.record("expected .damaged, got \(String(describing: error))")
            return
        }
    }

    @Test func pageNumbersOutsideTheDocumentAreUnreadable() throws {
        let document = try PDFTextDocument.open(contentsOf: fixture("english-8p"))
        #expect(throws: PDFError.pageUnreadable(0)) { try document.text(ofPage: 0) }
        #expect(throws: PDFError.pageUnreadable(9)) { try document.text(ofPage: 9) }
    }

    @Test func theMappedFileMayBeDeletedWhileOpen() throws {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("mapped-\(UUID()).pdf")
        try FileManager.default.copyItem(at: fixture("english-8p"), to: copy)
        let document = try PDFTextDocument.open(contentsOf: copy)
        try FileManager.default.removeItem(at: copy)
        #expect(try (1...8).map { try document.text(ofPage: $0).count }.reduce(0, +) > 23_000)
    }

    @Test func pagesCanBeReadFromManyTasksAtOnce() async throws {
        let document = try PDFTextDocument.open(contentsOf: fixture("english-40p"))
        let sequential = try (1...document.pageCount).map { try document.text(ofPage: $0) }
        let concurrent = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for _ in 0..<3 {
                for page in 1...document.pageCount {
                    group.addTask { (page, try document.text(ofPage: page)) }
                }
            }
            return try await group.reduce(into: [(Int, String)]()) { $0.append($1) }
        }
        #expect(concurrent.count == 3 * 40)
        for (page, text) in concurrent { #expect(text == sequential[page - 1], "page \(page)") }
    }
}

/// PDFs with garbage in the middle: made from english-8p by overwriting bytes, as a disk or an
/// upload can. Poppler still opens them, but loses the pages whose objects were hit.
@Suite("Damaged PDFs keep their readable pages")
struct DamagedPDFTests {
    let original: Data
    let originalTexts: [String]

    init() throws {
        original = try Data(contentsOf: fixture("english-8p"))
        let document = try PDFTextDocument.open(data: original)
        originalTexts = try (1...document.pageCount).map { try document.text(ofPage: $0) }
    }

    /// The byte range of page `number`'s page object (`N 0 obj … endobj`), found through /Kids.
    func pageObjectRange(_ number: Int) throws -> Range<Int> {
        let bytes = Array(original)
        let kidsMark = bytes.firstRange(of: Array("/Kids [".utf8))
        let kidsStart = try #require(kidsMark).upperBound
        let kidsEnd = try #require(bytes[kidsStart...].firstIndex(of: UInt8(ascii: "]")))
        // "3 0 R 5 0 R …": every third word is a page's object number.
        let kids = String(decoding: bytes[kidsStart..<kidsEnd], as: UTF8.self).split(whereSeparator: \.isWhitespace)
        try #require(kids.count >= number * 3)
        let header = bytes.firstRange(of: Array("\n\(kids[(number - 1) * 3]) 0 obj".utf8))
        let start = try #require(header).lowerBound + 1
        let end = bytes[start...].firstRange(of: Array("endobj".utf8))
        return start..<(try #require(end).upperBound)
    }

    func overwriting(_ ranges: [Range<Int>], with byte: UInt8 = 0x78) -> Data {
        var damaged = original
        for range in ranges { damaged.replaceSubrange(range, with: Data(repeating: byte, count: range.count)) }
        return damaged
    }

    @Test func aBrokenPageObjectMakesOnlyThatPageUnreadable() throws {
        let damaged = try PDFTextDocument.open(data: overwriting([pageObjectRange(7)]))
        #expect(damaged.pageCount == 8)
        for (index, page) in pages(of: damaged).enumerated() {
            switch (index + 1, page) {
            case (7, .failure(let error)): #expect(error == .pageUnreadable(7))
            case (7, .success): Issue.record("page 7 was read from a broken page object")
            // Poppler alone would give page 8's text as page 7's and fail page 8.
            case (let number, .success(let text)): #expect(text == originalTexts[number - 1], "page \(number)")
            case (let number, .failure(let error)): Issue.record("page \(number): \(error)")
            }
        }
    }

    @Test func twoBrokenPagesAndTheRestInPlace() throws {
        let damaged = try PDFTextDocument.open(data: overwriting([pageObjectRange(2), pageObjectRange(6)]))
        let results = pages(of: damaged)
        #expect(results.count == 8)
        for (index, page) in results.enumerated() {
            let number = index + 1
            if number == 2 || number == 6 {
                #expect(throws: PDFError.pageUnreadable(number)) { try page.get() }
            } else {
                #expect((try? page.get()) == originalTexts[index], "page \(number)")
            }
        }
    }

    @Test func fourKilobytesOfZerosInTheMiddle() throws {
        let middle = original.count / 2
        let damaged = try PDFTextDocument.open(data: overwriting([middle..<middle + 4000], with: 0))
        let results = pages(of: damaged)
        #expect(results.count == 8)
        for number in [1, 2, 3, 4, 5, 8] {
            #expect((try? results[number - 1].get()) == originalTexts[number - 1], "page \(number)")
        }
        // The zeros cut into page 6's content stream: poppler keeps what it could decode, which
        // is no error at all, so the page is short rather than unreadable.
        let six = try results[5].get()
        #expect(six.count > 500 && six.count < originalTexts[5].count - 500)
        #expect(originalTexts[5].hasPrefix(six.prefix(400)))
        // ...and they overwrite page 7's page object.
        #expect(throws: PDFError.pageUnreadable(7)) { try results[6].get() }
    }

    @Test func damagedDocumentsOpenedOnManyThreadsAtOnceEachFindTheirHoles() async throws {
        let seven = overwriting([try pageObjectRange(7)])
        let three = overwriting([try pageObjectRange(3)])
        let unreadable = try await withThrowingTaskGroup(of: (Int, [Int]).self) { group in
            for task in 0..<8 {
                group.addTask {
                    let document = try PDFTextDocument.open(data: task.isMultiple(of: 2) ? seven : three)
                    let failed = pages(of: document).enumerated().compactMap { index, page in
                        (try? page.get()) == nil ? index + 1 : nil
                    }
                    return (task, failed)
                }
            }
            return try await group.reduce(into: [Int: [Int]]()) { $0[$1.0] = $1.1 }
        }
        #expect(unreadable.count == 8)
        for (task, failed) in unreadable { #expect(failed == (task.isMultiple(of: 2) ? [7] : [3]), "task \(task)") }
    }
}

@Suite("Page numbers after poppler skipped broken entries")
struct PDFPageTreeTests {
    @Test func pageTreeMessagesAreRead() {
        #expect(
            PDFPageTree.skippedKidPage(in: "Syntax error at position -1: Kid object (page 7) is wrong type (null)") == 7
        )
        #expect(PDFPageTree.skippedKidPage(in: "Kids object (page 7) is wrong type (null)") == nil)
        #expect(PDFPageTree.skippedKidPage(in: "Failed to create page (page 3)") == nil)
    }

    @Test func skippedEntriesBecomeHoles() {
        #expect(PDFPageTree.indexMap(declared: 4, reachable: 4, skippedKids: [], sawLoop: false) == [0, 1, 2, 3])
        // Entries 2 and 6 skipped: poppler reports them as "page 2" and "page 5".
        #expect(
            PDFPageTree.indexMap(declared: 8, reachable: 6, skippedKids: [2, 5], sawLoop: false)
                == [0, nil, 1, 2, 3, nil, 4, 5])
        // Two neighbours: both reported as "page 7".
        #expect(
            PDFPageTree.indexMap(declared: 8, reachable: 6, skippedKids: [7, 7], sawLoop: false)
                == [0, 1, 2, 3, 4, 5, nil, nil])
    }

    @Test func unexplainedLossesTrustOnlyThePagesBefore() {
        // Poppler stopped at page 6 without skipping: nothing moved.
        #expect(
            PDFPageTree.indexMap(declared: 8, reachable: 5, skippedKids: [], sawLoop: false)
                == [0, 1, 2, 3, 4, nil, nil, nil])
        // One skip but three pages gone (a subtree): where pages 4… went is unknown.
        #expect(
            PDFPageTree.indexMap(declared: 8, reachable: 5, skippedKids: [3], sawLoop: false)
                == [0, 1, nil, nil, nil, nil, nil, nil])
        #expect(
            PDFPageTree.indexMap(declared: 3, reachable: 2, skippedKids: [], sawLoop: true) == [nil, nil, nil])
        // A skip with nothing missing: the page count left the broken entry out, or a linearized
        // file served the later pages from its hint tables. Either way the numbering is unsure.
        #expect(
            PDFPageTree.indexMap(declared: 4, reachable: 4, skippedKids: [2], sawLoop: false) == [0, nil, nil, nil])
    }
}
