import Foundation
import PageWorker
import Testing

@testable import Coordinator

/// Words of `text`, lower-cased, without punctuation.
func latinWords(_ text: String) -> [String] {
    text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
}

@Suite("Page images and OCR")
struct PageImageTests {
    @Test func scannedPagesRenderAsGreyPNGs() throws {
        let document = try PDFTextDocument.open(contentsOf: fixture("scanned-2p"))
        #expect(try document.text(ofPage: 1).trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        let image = try document.render(page: 1)
        #expect(image.png.starts(with: [0x89, 0x50, 0x4E, 0x47]))
        // A4 at 300 dpi, one byte a pixel (PNG colour type 0: greyscale).
        #expect(image.width == 2480 && image.height == 3508)
        #expect(image.png[25] == 0)
        #expect(!image.isBlank)

        let blank = try PDFTextDocument.open(contentsOf: fixture("mixed-3p")).render(page: 3, dpi: 50)
        #expect(blank.isBlank)
    }

    /// The scan holds the first 1800 characters of the English sample's pages 2 and 3.
    @Test func tesseractReadsTheScannedWords() async throws {
        let scan = try PDFTextDocument.open(contentsOf: fixture("scanned-2p"))
        let source = try PDFTextDocument.open(contentsOf: fixture("english-8p"))
        let printed = " ".join(try source.text(ofPage: 2).split(whereSeparator: \.isWhitespace))
        let expected = latinWords(String(printed.prefix(1780)))
        let reading = try await TextRecognizer.shared.read(png: scan.render(page: 1).png, languages: "eng")
        let read = Set(latinWords(reading.text))
        #expect(reading.isReadable)
        #expect(reading.rotation == 0)
        #expect(reading.script == "Latin")
        #expect(reading.meanConfidence > 85, "\(reading.meanConfidence)")
        let overlap = Double(expected.filter(read.contains).count) / Double(expected.count)
        #expect(overlap >= 0.9, "word overlap \(overlap)")
    }
}

extension String {
    fileprivate func join(_ parts: [Substring]) -> String { parts.joined(separator: self) }
}
