import Coordinator
import Foundation
import PageWorker

/// Reading right, measured: OCR seconds per page with orientation detection (OSD) on and off, the
/// words a rotated scan gives back compared with the upright page, and how many of `hindi-8p`'s
/// pages are sent to OCR (or compared with it) instead of voicing their text layer.
struct OCRBench {
    var fixtures: URL
    /// `Tests/LectorTests/Scans/make_scans.py`, which makes the rotated scans from the samples.
    var scansScript: URL
    var rounds = 3

    func run() async throws -> Figures {
        let scans = FileManager.default.temporaryDirectory.appendingPathComponent("lector-bench-scans-\(getpid())")
        defer { try? FileManager.default.removeItem(at: scans) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [scansScript.path, scans.path]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("make_scans.py failed") }

        let rotated = try PDFTextDocument.open(contentsOf: scans.appendingPathComponent("rotated-scan.pdf"))
        let images = try (1...4).map { try rotated.render(page: $0).png }
        let recognizer = TextRecognizer.shared
        // One read first, so model loading is not counted.
        _ = try await recognizer.read(png: images[0], languages: nil, orientation: true)

        var withOSD: [Double] = []
        var withoutOSD: [Double] = []
        for _ in 0..<rounds {
            for (orientation, sink) in [(true, 0), (false, 1)] {
                let started = ContinuousClock.now
                _ = try await recognizer.read(png: images[0], languages: nil, orientation: orientation)
                let seconds = (ContinuousClock.now - started).seconds
                if sink == 0 { withOSD.append(seconds) } else { withoutOSD.append(seconds) }
            }
        }
        let upright = try await recognizer.read(png: images[0], languages: nil, orientation: true).text
        var overlaps: [String: Double] = [:]
        for (index, degrees) in [(1, 90), (2, 180), (3, 270)] {
            let on = try await recognizer.read(png: images[index], languages: nil, orientation: true).text
            let off = try await recognizer.read(png: images[index], languages: nil, orientation: false).text
            overlaps["overlap_\(degrees)_osd"] = Self.overlap(on, upright)
            overlaps["overlap_\(degrees)_no_osd"] = Self.overlap(off, upright)
        }

        let hindi = try PDFTextDocument.open(contentsOf: fixtures.appendingPathComponent("hindi-8p.pdf"))
        var toOCR = 0
        var compared = 0
        for page in 1...hindi.pageCount {
            let raw = try hindi.text(ofPage: page)
            let repaired = TextLayerCheck.repair(raw, language: nil, dictionary: DevanagariDictionary.hindi)
            switch TextLayerCheck.verdict(raw: raw, repaired: repaired, language: nil, dictionary: .hindi) {
            case .voice: break
            case .ocr: toOCR += 1
            case .compare: compared += 1
            }
        }
        let on = withOSD.percentile(0.5)
        let off = withoutOSD.percentile(0.5)
        print(
            "OCR of a 300 dpi page: \(format(on, 2)) s with OSD, \(format(off, 2)) s without (×\(format(on / off, 2)))")
        for degrees in [90, 180, 270] {
            print(
                "  turned \(degrees)°: \(format(100 * overlaps["overlap_\(degrees)_osd"]!))% of the upright page's words with OSD, \(format(100 * overlaps["overlap_\(degrees)_no_osd"]!))% without"
            )
        }
        print("hindi-8p: \(toOCR) of \(hindi.pageCount) pages sent to OCR, \(compared) compared with OCR")
        var figures: Figures = [
            "seconds_per_page_osd": on, "seconds_per_page_no_osd": off, "osd_cost_ratio": on / off,
            "hindi_8p_pages": hindi.pageCount, "hindi_8p_sent_to_ocr": toOCR, "hindi_8p_compared_with_ocr": compared,
            "hindi_8p_share_to_ocr": Double(toOCR + compared) / Double(hindi.pageCount),
        ]
        for (key, value) in overlaps { figures[key] = value }
        return figures
    }

    static func overlap(_ read: String, _ expected: String) -> Double {
        func words(_ text: String) -> [String] {
            text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
        }
        let found = Set(words(read))
        let wanted = words(expected)
        return Double(wanted.filter(found.contains).count) / Double(max(wanted.count, 1))
    }
}
