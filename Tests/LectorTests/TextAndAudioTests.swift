import AsyncHTTPClient
import Coordinator
import Foundation
import NIOCore
import Testing

/// OCR of scanned pages, a voice per page, one page on its own and the whole book as one file,
/// through real processes.
@Suite("Text from every page, whole-book audio", .serialized)
struct TextAndAudioTests {
    typealias Cluster = FaultToleranceTests.Cluster

    static func words(_ text: String) -> [String] {
        text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
    }

    /// ffprobe's JSON for a file: its duration and chapters.
    static func probe(_ data: Data) throws -> (duration: Double, chapters: [[String: Any]]) {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString).mp3")
        try data.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
        process.arguments = [
            "-v", "error", "-show_chapters", "-show_entries", "format=duration", "-of", "json", url.path,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let json = try JSONSerialization.jsonObject(with: output) as? [String: Any] ?? [:]
        let duration = Double((json["format"] as? [String: Any])?["duration"] as? String ?? "") ?? -1
        return (duration, json["chapters"] as? [[String: Any]] ?? [])
    }

    static func pages(_ cluster: Cluster, _ book: Int) async throws -> [[String: Any]] {
        let json = try await HTTP.json("\(cluster.base)/api/books/\(book)/pages/").json
        return (json["data"] as? [String: Any])?["pages"] as? [[String: Any]] ?? []
    }

    @Test func scannedPagesAreReadWithOCRAndVoiced() async throws {
        try await BookPipelineTests.withCluster(workers: 2) { cluster in
            let (body, type) = SSEClient.multipart(
                file: try Data(contentsOf: FaultToleranceTests.fixtures.appendingPathComponent("scanned-2p.pdf")),
                filename: "scanned-2p.pdf", fields: ["title": "Scanned"])
            let (status, events) = try await SSEClient.post(
                "\(cluster.base)/api/books/upload/?stream=true", body: body, contentType: type)
            #expect(status == 200)
            // The upload says which pages wait for OCR.
            let progress = events.filter { $0.name == "text_progress" }
            #expect(progress.map { $0.data["text_source"] as? String } == ["ocr", "ocr"])
            #expect(progress.allSatisfy { ($0.data["message"] as? String ?? "").contains("OCR") })
            let book = try #require(events.last?.data["book_id"] as? Int)

            let final = try await cluster.settle(book, timeout: .seconds(180))
            #expect(final["processing_status"] as? String == "completed")
            #expect(final["pages_with_audio"] as? Int == 2)

            // The scan shows the first 1800 characters of the English sample's pages 2 and 3.
            let source = try PDFTextDocument.open(
                contentsOf: FaultToleranceTests.fixtures.appendingPathComponent("english-8p.pdf"))
            let pages = try await Self.pages(cluster, book)
            #expect(pages.count == 2)
            for page in pages {
                let number = try #require(page["page_number"] as? Int)
                #expect(page["text_source"] as? String == "ocr")
                #expect(page["processing_status"] as? String == "completed")
                #expect(page["voice"] as? String == "en")
                let printed = try source.text(ofPage: number + 1).split(whereSeparator: \.isWhitespace).joined(
                    separator: " ")
                let expected = Self.words(String(printed.prefix(1780)))
                let read = Set(Self.words(page["text_content"] as? String ?? ""))
                let overlap = Double(expected.filter(read.contains).count) / Double(expected.count)
                #expect(overlap >= 0.9, "page \(number): word overlap \(overlap)")
                let audio = try await HTTP.get("\(cluster.base)\(try #require(page["audio_url"] as? String))")
                #expect(audio.status == 200)
                #expect(try Self.probe(audio.body).duration > 30)
            }
        }
    }

    /// `scanned-hindi-1p.pdf` is page 2 of hindi-8p.pdf as a 150 dpi image (pdftoppm, then PIL).
    @Test func aScannedHindiPageIsReadAndVoicedInHindi() async throws {
        try await BookPipelineTests.withCluster(workers: 1) { cluster in
            let book = try await cluster.upload("scanned-hindi-1p")
            let final = try await cluster.settle(book, timeout: .seconds(180))
            #expect(final["processing_status"] as? String == "completed")
            let page = try #require(try await Self.pages(cluster, book).first)
            #expect(page["text_source"] as? String == "ocr")
            #expect(page["voice"] as? String == "hi")
            #expect(page["audio_url"] is String)
            let printed = try PDFTextDocument.open(
                contentsOf: FaultToleranceTests.fixtures.appendingPathComponent("hindi-8p.pdf")
            ).text(ofPage: 2)
            let expected = Self.words(DevanagariRepair.repair(printed))
            let read = Set(Self.words(page["text_content"] as? String ?? ""))
            let overlap = Double(expected.filter(read.contains).count) / Double(expected.count)
            #expect(overlap >= 0.85, "word overlap \(overlap)")
        }
    }

    @Test func eachPageGetsTheVoiceOfItsScript() async throws {
        try await BookPipelineTests.withCluster(workers: 1) { cluster in
            let book = try await cluster.upload("mixed-3p")
            let final = try await cluster.settle(book, timeout: .seconds(120))
            #expect(final["processing_status"] as? String == "completed")
            let pages = try await Self.pages(cluster, book)
            #expect(pages.map { $0["voice"] as? String } == ["en", "hi", nil])
            #expect(pages.map { $0["processing_status"] as? String } == ["completed", "completed", "completed"])
            #expect(pages.map { $0["audio_url"] is String } == [true, true, false])
            #expect(pages.map { $0["text_source"] as? String } == ["pdf", "pdf", "ocr"])
        }
    }

    @Test func wholeBookAudioHasAChapterPerPage() async throws {
        try await BookPipelineTests.withCluster(workers: 2) { cluster in
            let book = try await cluster.upload("english-8p")
            // Asked before the pages are voiced: not ready, and nothing is built.
            let early = try await HTTP.send(.GET, "\(cluster.base)/api/books/\(book)/audio/")
            #expect(early.status == 409)
            #expect(early.errorCode == "audio_not_ready")

            _ = try await cluster.settle(book)
            let pages = try await Self.pages(cluster, book)
            var pageSeconds = 0.0
            for page in pages {
                let audio = try await HTTP.get("\(cluster.base)\(try #require(page["audio_url"] as? String))")
                pageSeconds += try Self.probe(audio.body).duration
            }

            let whole = try await HTTP.send(.GET, "\(cluster.base)/api/books/\(book)/audio/", timeout: .seconds(120))
            #expect(whole.status == 200)
            #expect(whole.headers.first(name: "content-type") == "audio/mpeg")
            let probed = try Self.probe(whole.body)
            #expect(abs(probed.duration - pageSeconds) <= 1, "book \(probed.duration) s, pages \(pageSeconds) s")
            #expect(probed.chapters.count == 8)
            #expect(
                probed.chapters.map { ($0["tags"] as? [String: Any])?["title"] as? String }
                    == (1...8).map { "Page \($0)" })
            let lastEnd = Double(probed.chapters.last?["end_time"] as? String ?? "") ?? 0
            #expect(abs(lastEnd - pageSeconds) <= 1)

            // Built once, served with ranges like page audio.
            let part = try await HTTP.send(
                .GET, "\(cluster.base)/api/books/\(book)/audio/", headers: [("Range", "bytes=100-1123")])
            #expect(part.status == 206)
            #expect(part.body == whole.body[100..<1124])
            #expect(part.headers.first(name: "content-range") == "bytes 100-1123/\(whole.body.count)")

            // One page on its own.
            let one = try await HTTP.send(.GET, "\(cluster.base)/api/books/\(book)/pages/3/")
            #expect(one.status == 200)
            #expect(one.data?["page_number"] as? Int == 3)
            #expect(one.data?["audio_url"] as? String == "/media/books/\(book)/page_0003.mp3")
            let missing = try await HTTP.send(.GET, "\(cluster.base)/api/books/\(book)/pages/9/")
            #expect(missing.status == 404)
            #expect(missing.errorCode == "page_not_found")
        }
    }
}
