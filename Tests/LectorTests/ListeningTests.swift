import Foundation
import Testing

/// Listening like an audiobook, through a real cluster: the remembered place.
@Suite("Listening", .serialized)
struct ListeningTests {
    typealias Cluster = FaultToleranceTests.Cluster

    static func put(_ cluster: Cluster, _ book: Int, _ body: String) async throws -> HTTP.Reply {
        try await HTTP.send(
            .PUT, "\(cluster.base)/api/books/\(book)/position/", headers: [("Content-Type", "application/json")],
            body: Data(body.utf8))
    }

    @Test func thePlaceIsSavedCheckedAndShown() async throws {
        try await BookPipelineTests.withCluster(workers: 1) { cluster in
            let book = try await cluster.upload("english-8p")
            let fresh = try await HTTP.json("\(cluster.base)/api/books/\(book)/position/")
            #expect(fresh.status == 200)
            let unsaved = try #require(fresh.json["data"] as? [String: Any])
            #expect(unsaved["page"] as? Int == 1)
            #expect(unsaved["seconds"] as? Double == 0)
            #expect(unsaved["updated_at"] is NSNull)
            let settled = try await cluster.settle(book)
            #expect(
                settled["processing_status"] as? String == "completed",
                "\(settled)\n\(cluster.coordinator.output.suffix(4000))\n\(cluster.workers.values.map { $0.output.suffix(2000) }.joined(separator: "\n"))"
            )

            let saved = try await Self.put(cluster, book, #"{"page": 3, "seconds": 12.5}"#)
            #expect(saved.status == 200)
            #expect(saved.data?["page"] as? Int == 3)
            let read = try await HTTP.json("\(cluster.base)/api/books/\(book)/position/")
            let position = try #require(read.json["data"] as? [String: Any])
            #expect(position["book_id"] as? Int == book)
            #expect(position["page"] as? Int == 3)
            #expect(position["seconds"] as? Double == 12.5)
            #expect(position["updated_at"] is String)

            // Refusals: each leaves the saved place as it was.
            for (body, status, code) in [
                (#"{"page": 9, "seconds": 1}"#, 400, "invalid_position"),
                (#"{"page": 0, "seconds": 1}"#, 400, "invalid_position"),
                (#"{"page": 2, "seconds": -1}"#, 400, "invalid_position"),
                (#"{"page": 2, "seconds": 100000}"#, 400, "invalid_position"),
                (#"{"page": 2.5, "seconds": 1}"#, 400, "invalid_position"),
                (#"{"page": 2}"#, 400, "invalid_position"),
                (#"not json"#, 400, "invalid_json"),
                (
                    #"{"page": 2, "seconds": 1, "pad": ""# + String(repeating: "x", count: 2000) + #""}"#, 413,
                    "body_too_large"
                ),
            ] {
                let refused = try await Self.put(cluster, book, body)
                #expect(refused.status == status, "\(body.prefix(40)): \(refused.status)")
                #expect(refused.errorCode == code, "\(body.prefix(40)): \(refused.json)")
            }
            let after =
                try await HTTP.json("\(cluster.base)/api/books/\(book)/position/").json["data"] as? [String: Any]
            #expect(after?["page"] as? Int == 3 && after?["seconds"] as? Double == 12.5)

            #expect(try await Self.put(cluster, 99999, #"{"page": 1, "seconds": 0}"#).status == 404)
            #expect(try await HTTP.json("\(cluster.base)/api/books/99999/position/").status == 404)
            let wrongMethod = try await HTTP.send(.POST, "\(cluster.base)/api/books/\(book)/position/")
            #expect(wrongMethod.status == 405)

            let (exit, output) = try await LectorProcess.run(["status", "\(book)", "--server", cluster.base])
            #expect(exit == 0)
            #expect(output.contains("listening:  page 3 at 0:12"), "\(output)")
        }
    }

    /// A PDF of `texts.count` pages whose outline names `chapters` (title, first page), the second
    /// one nested under the first, as PDF writers nest sections.
    static func pdfWithOutline(_ texts: [String], chapters: [(String, Int)]) -> Data {
        var objects: [String] = []
        let pages = texts.count
        // 1 catalog, 2 pages, 3 font, 4 outlines, then a page and its content per page, then items.
        let firstPage = 5
        let firstItem = firstPage + 2 * pages
        let kids = (0..<pages).map { "\(firstPage + 2 * $0) 0 R" }.joined(separator: " ")
        objects.append("<< /Type /Catalog /Pages 2 0 R /Outlines 4 0 R /PageMode /UseOutlines >>")
        objects.append("<< /Type /Pages /Kids [\(kids)] /Count \(pages) >>")
        objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        // Top level: every chapter but the second; the second is the first one's child.
        let top = chapters.indices.filter { $0 != 1 }
        objects.append(
            "<< /Type /Outlines /First \(firstItem + top.first!) 0 R /Last \(firstItem + top.last!) 0 R /Count \(chapters.count) >>"
        )
        for (index, text) in texts.enumerated() {
            let content = "BT /F1 12 Tf 72 700 Td (\(text)) Tj ET"
            objects.append(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents \(firstPage + 2 * index + 1) 0 R /Resources << /Font << /F1 3 0 R >> >> >>"
            )
            objects.append("<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream")
        }
        for (index, (title, page)) in chapters.enumerated() {
            var item = "<< /Title (\(title)) /Dest [\(firstPage + 2 * (page - 1)) 0 R /Fit]"
            if index == 1 {
                item += " /Parent \(firstItem) 0 R"
            } else {
                item += " /Parent 4 0 R"
                if let position = top.firstIndex(of: index) {
                    if position > 0 { item += " /Prev \(firstItem + top[position - 1]) 0 R" }
                    if position + 1 < top.count { item += " /Next \(firstItem + top[position + 1]) 0 R" }
                }
                if index == 0, chapters.count > 1 {
                    item += " /First \(firstItem + 1) 0 R /Last \(firstItem + 1) 0 R /Count 1"
                }
            }
            objects.append(item + " >>")
        }
        return PDFBytes.assemble(objects)
    }

    @Test func theOutlineGivesChaptersToTheBookAndItsAudio() async throws {
        try await BookPipelineTests.withCluster(workers: 1) { cluster in
            let texts = (1...5).map { "This is page \($0) of a book with chapters." }
            let pdf = Self.pdfWithOutline(
                texts, chapters: [("Opening words", 2), ("A section of it", 3), ("The second part", 4)])
            let reply = try await HTTP.send(
                .POST, "\(cluster.base)/api/books/upload/?title=Chaptered&quality=fast",
                headers: [("Content-Type", "application/pdf")], body: pdf)
            let book = try #require(reply.data?["book_id"] as? Int)
            let detail = try #require(
                try await HTTP.json("\(cluster.base)/api/books/\(book)/").json["data"] as? [String: Any])
            #expect(detail["title"] as? String == "Chaptered")
            #expect(detail["total_pages"] as? Int == 5)
            let chapters = try #require(detail["chapters"] as? [[String: Any]])
            #expect(chapters.map { $0["title"] as? String } == ["Opening words", "A section of it", "The second part"])
            #expect(chapters.map { $0["page"] as? Int } == [2, 3, 4])
            #expect(try await cluster.settle(book)["processing_status"] as? String == "completed")

            // The whole-book MP3's ID3 chapters: page 1 opens under the book's title, then the outline's.
            let mp3 = try await HTTP.send(.GET, "\(cluster.base)/api/books/\(book)/audio/", timeout: .seconds(120))
            #expect(mp3.status == 200)
            let probed = try TextAndAudioTests.probe(mp3.body)
            let titles = probed.chapters.map { ($0["tags"] as? [String: Any])?["title"] as? String }
            #expect(titles == ["Chaptered", "Opening words", "A section of it", "The second part"])
            // Chapters follow one another and cover the book.
            let ends = probed.chapters.compactMap { Double($0["end_time"] as? String ?? "") }
            #expect(abs((ends.last ?? 0) - probed.duration) < 1)

            // M4B: AAC with the same chapters.
            // Made on the first request (409 `audio_not_ready` while a long one is being made).
            var m4b = try await HTTP.send(
                .GET, "\(cluster.base)/api/books/\(book)/audio/?format=m4b", timeout: .seconds(120))
            let until = ContinuousClock.now + .seconds(120)
            while m4b.status == 409, ContinuousClock.now < until {
                #expect(m4b.errorCode == "audio_not_ready")
                try await Task.sleep(for: .seconds(1))
                m4b = try await HTTP.send(.GET, "\(cluster.base)/api/books/\(book)/audio/?format=m4b")
            }
            #expect(m4b.status == 200)
            #expect(m4b.headers.first(name: "content-type") == "audio/mp4")
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("m4b-\(UUID().uuidString).m4b")
            try m4b.body.write(to: folder)
            defer { try? FileManager.default.removeItem(at: folder) }
            let ffprobe = Process()
            ffprobe.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
            ffprobe.arguments = [
                "-v", "error", "-show_chapters", "-show_entries", "stream=codec_name:format=duration", "-of", "json",
                folder.path,
            ]
            let pipe = Pipe()
            ffprobe.standardOutput = pipe
            try ffprobe.run()
            let output = pipe.fileHandleForReading.readDataToEndOfFile()
            ffprobe.waitUntilExit()
            let json = try JSONSerialization.jsonObject(with: output) as? [String: Any] ?? [:]
            #expect((json["streams"] as? [[String: Any]])?.first?["codec_name"] as? String == "aac")
            let m4bTitles = (json["chapters"] as? [[String: Any]] ?? []).map {
                ($0["tags"] as? [String: Any])?["title"] as? String
            }
            #expect(m4bTitles == titles)
            let duration = Double((json["format"] as? [String: Any])?["duration"] as? String ?? "") ?? 0
            #expect(abs(duration - probed.duration) < 1)
            let badFormat = try await HTTP.send(.GET, "\(cluster.base)/api/books/\(book)/audio/?format=wav")
            #expect(badFormat.status == 400 && badFormat.errorCode == "invalid_format")
        }
    }
}
