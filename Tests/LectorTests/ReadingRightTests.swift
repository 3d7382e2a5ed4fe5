import Coordinator
import Foundation
import Testing

/// Reading right, through real processes: rotated scans, languages beyond the script, scans not
/// worth voicing and a page with a huge image. The PDFs are made from the project's own samples
/// by `Scans/make_scans.py` (poppler's pdftoppm and Python's zlib), so no large file is kept.
@Suite("Reading right: orientation, language, confidence", .serialized)
struct ReadingRightTests {
    typealias Cluster = FaultToleranceTests.Cluster

    /// The generated PDFs, made once per test run.
    static let scans: Result<URL, TestFailure> = {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lector-scans-\(getpid())")
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Scans/make_scans.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script.path, directory.path]
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { return .failure(TestFailure("cannot run make_scans.py: \(error)")) }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            return .failure(TestFailure("make_scans.py failed (exit \(process.terminationStatus)); needs pdftoppm"))
        }
        return .success(directory)
    }()

    static func scan(_ name: String) throws -> Data {
        try Data(contentsOf: scans.get().appendingPathComponent("\(name).pdf"))
    }

    static func upload(_ cluster: Cluster, _ name: String) async throws -> Int {
        let reply = try await HTTP.send(
            .POST, "\(cluster.base)/api/books/upload/?title=\(name)", headers: [("Content-Type", "application/pdf")],
            body: try scan(name), timeout: .seconds(60))
        guard reply.status == 200, let id = (reply.json["data"] as? [String: Any])?["book_id"] as? Int else {
            throw TestFailure("upload of \(name) failed: \(reply.status) \(reply.json)")
        }
        return id
    }

    static func words(_ text: String) -> [String] {
        text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
    }

    /// The share of `expected`'s words that `read` contains.
    static func overlap(_ read: String, _ expected: String) -> Double {
        let found = Set(words(read))
        let wanted = words(expected)
        return Double(wanted.filter(found.contains).count) / Double(max(wanted.count, 1))
    }

    static func hasDevanagari(_ text: String) -> Bool {
        text.unicodeScalars.contains { (0x0900...0x097F).contains($0.value) }
    }

    @Test func rotatedScansReadLikeTheUprightPage() async throws {
        try await BookPipelineTests.withCluster(workers: 2) { cluster in
            // No language given: OSD turns each page and picks the Latin script's pack.
            let rotated = try await Self.upload(cluster, "rotated-scan")
            let turned = try await Self.upload(cluster, "rotate-key")
            #expect(
                try await cluster.settle(rotated, timeout: .seconds(300))["processing_status"] as? String == "completed"
            )
            #expect(
                try await cluster.settle(turned, timeout: .seconds(120))["processing_status"] as? String == "completed")
            let pages = try await BookPipelineTests.pagesOf(cluster.base, rotated)
            #expect(pages.count == 4)
            let upright = try #require(pages.first?["text_content"] as? String)
            #expect(Self.words(upright).count > 250, "\(upright.prefix(200))")
            let keyed = try #require(try await BookPipelineTests.pagesOf(cluster.base, turned).first)
            for page in pages + [keyed] {
                let text = page["text_content"] as? String ?? ""
                let label = "page \(page["page_number"] ?? "?")"
                #expect(
                    Self.overlap(text, upright) >= 0.9, "\(label): \(Self.overlap(text, upright)) \(text.prefix(120))")
                #expect(!Self.hasDevanagari(text), "\(label)")
                #expect(page["voice"] as? String == "en", "\(label)")
                #expect(page["language"] as? String == "en", "\(label)")
                #expect(page["text_source"] as? String == "ocr", "\(label)")
                #expect(page["text_quality"] as? String == "good", "\(label)")
                #expect((page["ocr_confidence"] as? Double ?? 0) > 80, "\(label)")
                #expect(page["audio_url"] is String, "\(label)")
            }
            let log = cluster.workers.values.map(\.output).joined()
            for degrees in [90, 180, 270] { #expect(log.contains("turned \(degrees)°"), "\(degrees)") }
            #expect(!log.contains("hin+eng"), "an English scan was read with the Hindi pack")
        }
    }

    @Test func frenchAndGermanAreReadAndVoicedInTheirLanguage() async throws {
        try await BookPipelineTests.withCluster(workers: 2) { cluster in
            let layer = try await Self.upload(cluster, "european")
            let scanned = try await Self.upload(cluster, "european-scan")
            #expect(
                try await cluster.settle(layer, timeout: .seconds(120))["processing_status"] as? String == "completed")
            #expect(
                try await cluster.settle(scanned, timeout: .seconds(300))["processing_status"] as? String == "completed"
            )
            let printed = try await BookPipelineTests.pagesOf(cluster.base, layer)
            #expect(printed.map { $0["voice"] as? String } == ["fr", "de", "es"])
            #expect(printed.map { $0["language"] as? String } == ["fr", "de", "es"])
            #expect(printed.allSatisfy { $0["text_source"] as? String == "pdf" && $0["audio_url"] is String })

            let read = try await BookPipelineTests.pagesOf(cluster.base, scanned)
            #expect(read.map { $0["voice"] as? String } == ["fr", "de"])
            #expect(read.map { $0["language"] as? String } == ["fr", "de"])
            for (scan, source) in zip(read, printed) {
                let text = scan["text_content"] as? String ?? ""
                let truth = source["text_content"] as? String ?? ""
                #expect(scan["text_source"] as? String == "ocr")
                // The language's own pack keeps the accents: the accented words are read as printed.
                let accented = Self.words(truth).filter { $0.unicodeScalars.contains { $0.value > 0x7F } }
                #expect(accented.count > 15)
                let found = Set(Self.words(text))
                let share = Double(accented.filter(found.contains).count) / Double(accented.count)
                #expect(share >= 0.9, "accented words read: \(share)")
                #expect(Self.overlap(text, truth) >= 0.95)
            }
            let log = cluster.workers.values.map(\.output).joined()
            #expect(log.contains("with fra,"), "the French scan was not read with the French pack")
            #expect(log.contains("with deu,"), "the German scan was not read with the German pack")
        }
    }

    @Test func noiseIsNotVoicedAndAHugeImageIsRead() async throws {
        try await BookPipelineTests.withCluster(workers: 1) { cluster in
            let noise = try await Self.upload(cluster, "noise-scan")
            let huge = try await Self.upload(cluster, "huge-image")
            let status = try await cluster.settle(noise, timeout: .seconds(180))
            #expect(status["processing_status"] as? String == "completed")
            let page = try #require(try await BookPipelineTests.pagesOf(cluster.base, noise).first)
            #expect(page["processing_status"] as? String == "completed")
            #expect(page["text_source"] as? String == "ocr")
            #expect(page["text_quality"] as? String == "unreadable")
            #expect(page["audio_url"] is NSNull)
            #expect(page["voice"] is NSNull)
            let confidence = try #require(page["ocr_confidence"] as? Double)
            #expect(confidence < 60, "\(confidence)")
            #expect(
                cluster.workers.values.contains { $0.output.contains("not voiced: scan could not be read reliably") })

            // 9000×9000 pixels at 300 dpi is over the render cap: drawn at a lower dpi, and read.
            #expect(
                try await cluster.settle(huge, timeout: .seconds(300))["processing_status"] as? String == "completed")
            let big = try #require(try await BookPipelineTests.pagesOf(cluster.base, huge).first)
            #expect(big["error"] == nil)
            #expect(big["text_quality"] as? String == "good")
            #expect(big["audio_url"] is String)
            let text = (big["text_content"] as? String ?? "").lowercased()
            #expect(text.contains("software patents"), "\(text.prefix(300))")
            #expect(Self.words(text).count > 250)
        }
    }
}
