import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The product through its HTTP API, on real processes: upload, progress, audio, errors.
@Suite("Book pipeline over HTTP", .serialized)
struct BookPipelineTests {
    typealias Cluster = FaultToleranceTests.Cluster

    static func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: FaultToleranceTests.fixtures.appendingPathComponent("\(name).pdf"))
    }

    static func request(_ method: HTTPMethod, _ url: String, headers: [(String, String)] = [], body: Data? = nil)
        async throws -> (status: Int, json: [String: Any], headers: HTTPHeaders, body: Data)
    {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let bytes = Data(buffer: try await response.body.collect(upTo: 32 << 20))
        let json = (try? JSONSerialization.jsonObject(with: bytes)) as? [String: Any] ?? [:]
        return (Int(response.status.code), json, response.headers, bytes)
    }

    static func probeDuration(_ data: Data) throws -> Double {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-\(UUID().uuidString).mp3")
        try data.write(to: url)
        defer { try? FileManager.default.removeItem(at: url) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
        process.arguments = ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", url.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    @Test func streamedUploadsBecomeAudioForEveryPage() async throws {
        let cluster = try await Cluster.start(workers: 2)
        for (name, voice) in [("english-8p", "en"), ("hindi-8p", "hi")] {
            let (body, type) = SSEClient.multipart(
                file: try Self.fixture(name), field: name == "hindi-8p" ? "pdf_file" : "file", filename: "\(name).pdf",
                fields: ["title": "Sample \(name)"])
            let (status, events) = try await SSEClient.post(
                "\(cluster.base)/api/books/upload/?stream=true", body: body, contentType: type)
            #expect(status == 200)
            #expect(
                events.map(\.name) == ["status", "processing_started"] + Array(repeating: "text_progress", count: 8) + [
                    "completed"
                ])
            #expect(events[1].data["total_pages"] as? Int == 8)
            #expect(
                events.filter { $0.name == "text_progress" }.compactMap { $0.data["current_page"] as? Int }
                    == Array(1...8))
            for event in events where event.name == "text_progress" {
                #expect(Set(event.data.keys) == ["current_page", "total_pages", "progress", "message", "chars"])
                #expect((event.data["chars"] as? Int ?? 0) > 500)
            }
            let completed = events.last!.data
            let book = try #require(completed["book_id"] as? Int)
            #expect(completed["status_url"] as? String == "/api/books/\(book)/status/")
            #expect(completed["title"] as? String == "Sample \(name)")
            #expect(completed["message"] as? String == "Upload completed! Audio generation is running in background.")

            let final = try await cluster.settle(book)
            #expect(final["processing_status"] as? String == "completed")
            #expect(final["audio_ready"] as? Bool == true)
            #expect(final["processing_progress"] as? Int == 100)
            #expect(final["estimated_time_remaining"] as? String == "Complete!")
            #expect(final["pages_with_audio"] as? Int == 8)
            #expect(
                final["pages_status"] as? [String: Int] == ["pending": 0, "processing": 0, "completed": 8, "failed": 0])
            #expect(
                Set(final.keys) == [
                    "book_id", "title", "processing_status", "processing_progress", "total_pages", "pages_status",
                    "audio_ready",
                    "pages_with_audio", "estimated_time_remaining", "created_at", "last_updated",
                ])

            let pagesJSON = try await HTTP.json("\(cluster.base)/api/books/\(book)/pages/").json
            let data = try #require(pagesJSON["data"] as? [String: Any])
            #expect(
                Set((data["book"] as? [String: Any] ?? [:]).keys) == [
                    "id", "title", "total_pages", "processing_status",
                ])
            let pages = data["pages"] as? [[String: Any]] ?? []
            #expect(pages.count == 8)
            for page in pages {
                #expect(
                    Set(page.keys) == [
                        "id", "page_number", "text_content", "audio_url", "audio_duration", "processing_status",
                        "voice", "text_source",
                    ])
                #expect(page["voice"] as? String == voice)
                #expect(page["text_source"] as? String == "pdf")
                let url = try #require(page["audio_url"] as? String)
                let audio = try await Self.request(.GET, "\(cluster.base)\(url)")
                #expect(audio.status == 200)
                #expect(audio.headers["Content-Type"].first == "audio/mpeg")
                let decoded = try Self.probeDuration(audio.body)
                #expect(abs(decoded - Double(page["audio_duration"] as? Int ?? -9)) <= 1, "\(url): \(decoded)")
            }
            // A range request returns exactly the bytes asked for.
            let url = pages[0]["audio_url"] as! String
            let full = try await Self.request(.GET, "\(cluster.base)\(url)").body
            let part = try await Self.request(.GET, "\(cluster.base)\(url)", headers: [("Range", "bytes=1000-1999")])
            #expect(part.status == 206)
            #expect(part.body == full[1000..<2000])
            #expect(part.headers["Content-Range"].first == "bytes 1000-1999/\(full.count)")
            let tail = try await Self.request(.GET, "\(cluster.base)\(url)", headers: [("Range", "bytes=-100")])
            #expect(tail.body == full.suffix(100))
            let outside = try await Self.request(
                .GET, "\(cluster.base)\(url)", headers: [("Range", "bytes=\(full.count + 10)-")])
            #expect(outside.status == 416)
            let window = try await HTTP.json("\(cluster.base)/api/books/\(book)/pages/?offset=6&limit=5").json
            #expect(
                ((window["data"] as? [String: Any])?["pages"] as? [[String: Any]])?.compactMap {
                    $0["page_number"] as? Int
                } == [7, 8])
        }
        let list = try await HTTP.json("\(cluster.base)/api/books/").json["data"] as? [[String: Any]] ?? []
        #expect(list.count == 2)
        #expect(
            list.allSatisfy {
                Set($0.keys) == [
                    "id", "title", "total_pages", "processing_status", "processing_progress", "created_at",
                ]
            })
        await cluster.stop()
    }

    @Test func badInputIsRefusedAndLeavesNothingBehind() async throws {
        let cluster = try await Cluster.start(workers: 1)
        let data = cluster.files.folder.appendingPathComponent("data")
        func leftovers() -> (books: Int, audio: [String], spooled: [String]) {
            let audio =
                (try? FileManager.default.contentsOfDirectory(atPath: data.appendingPathComponent("audio/books").path))
                ?? []
            let spooled =
                (try? FileManager.default.contentsOfDirectory(atPath: data.appendingPathComponent("uploads").path))
                ?? []
            return (0, audio, spooled)
        }
        let cases: [(String, Data, String, Int, String)] = [
            ("not a PDF", try Self.fixture("not-a-pdf"), "application/pdf", 415, "not_a_pdf"),
            ("encrypted", try Self.fixture("encrypted"), "application/pdf", 422, "pdf_encrypted"),
            ("truncated", try Self.fixture("truncated"), "application/pdf", 422, "pdf_damaged"),
            ("empty body", Data(), "application/pdf", 400, "missing_file"),
            ("plain text", Data("hello".utf8), "text/plain", 415, "not_a_pdf"),
        ]
        for (label, body, type, status, code) in cases {
            let answer = try await Self.request(
                .POST, "\(cluster.base)/api/books/upload/", headers: [("Content-Type", type)], body: body)
            #expect(answer.status == status, "\(label)")
            #expect(answer.json["status"] as? String == "FAIL", "\(label)")
            #expect(answer.json["data"] is NSNull, "\(label)")
            #expect((answer.json["error"] as? [String: Any])?["code"] as? String == code, "\(label)")
            #expect((answer.json["message"] as? String)?.isEmpty == false)
            let books = try await HTTP.json("\(cluster.base)/api/books/").json["data"] as? [Any]
            #expect(books?.count == 0, "\(label) left a book")
            #expect(leftovers().audio.isEmpty && leftovers().spooled.isEmpty, "\(label) left files")
        }
        let (multipart, type) = SSEClient.multipart(file: try Self.fixture("encrypted"), filename: "locked.pdf")
        let (status, events) = try await SSEClient.post(
            "\(cluster.base)/api/books/upload/?stream=true", body: multipart, contentType: type)
        #expect(status == 422)
        #expect(events.map(\.name) == ["error"])
        #expect((events.first?.data["error"] as? String)?.contains("encrypted") == true)

        #expect(try await HTTP.json("\(cluster.base)/api/books/999/status/").status == 404)
        #expect(try await HTTP.json("\(cluster.base)/api/books/abc/pages/").status == 404)
        #expect(try await HTTP.json("\(cluster.base)/api/books/1/pages/?limit=0").status == 400)
        #expect(try await HTTP.json("\(cluster.base)/media/books/1/..%2F..%2Fcluster.yaml").status == 404)
        #expect(try await HTTP.json("\(cluster.base)/media/books/1/page_1.mp3").status == 404)

        // Garbage in the middle: the readable pages are kept, the others fail with a reason.
        var damaged = try Self.fixture("english-8p")
        let middle = damaged.count / 2
        damaged.replaceSubrange(middle..<middle + 4000, with: Data(count: 4000))
        let answer = try await Self.request(
            .POST, "\(cluster.base)/api/books/upload/?title=damaged", headers: [("Content-Type", "application/pdf")],
            body: damaged)
        #expect(answer.status == 200)
        let book = try #require((answer.json["data"] as? [String: Any])?["book_id"] as? Int)
        let final = try await cluster.settle(book)
        let counts = final["pages_status"] as? [String: Int] ?? [:]
        #expect((counts["failed"] ?? 0) >= 1 && (counts["completed"] ?? 0) >= 5, "\(final)")
        #expect(final["processing_status"] as? String == "failed")
        let pages =
            (try await HTTP.json("\(cluster.base)/api/books/\(book)/pages/").json["data"] as? [String: Any])?["pages"]
            as? [[String: Any]] ?? []
        for page in pages where page["processing_status"] as? String == "failed" {
            #expect((page["error"] as? String)?.contains("could not be read") == true)
        }
        #expect(cluster.coordinator.isRunning)
        await cluster.stop()
    }

    @Test func deleteRemovesEverythingAndRetryAnswers() async throws {
        let cluster = try await Cluster.start(workers: 1)
        let book = try await cluster.upload("mixed-3p")
        let final = try await cluster.settle(book)
        #expect(final["processing_status"] as? String == "completed")
        let pages =
            (try await HTTP.json("\(cluster.base)/api/books/\(book)/pages/").json["data"] as? [String: Any])?["pages"]
            as? [[String: Any]] ?? []
        #expect(pages.map { $0["voice"] as? String } == ["en", "hi", nil])
        #expect(pages[2]["audio_url"] is NSNull)
        #expect(cluster.audioFiles(book) == ["page_0001.mp3", "page_0002.mp3"])

        let retry = try await Self.request(.POST, "\(cluster.base)/api/books/\(book)/retry/")
        #expect(retry.status == 200)
        #expect((retry.json["data"] as? [String: Any])?["requeued_pages"] as? Int == 0)

        let deleted = try await Self.request(.DELETE, "\(cluster.base)/api/books/\(book)/")
        #expect(deleted.status == 200)
        #expect(try await HTTP.json("\(cluster.base)/api/books/\(book)/status/").status == 404)
        #expect(try await Self.request(.GET, "\(cluster.base)/media/books/\(book)/page_0001.mp3").status == 404)
        #expect(cluster.audioFiles(book).isEmpty)
        #expect(try await Self.request(.DELETE, "\(cluster.base)/api/books/\(book)/").status == 404)
        await cluster.stop()
    }

    @Test func uploadLimitAndAPIToken() async throws {
        let cluster = try await Cluster.start(
            workers: 1, extra: "http:\n  max_upload_bytes: 40000\n  api_token: s3cret")
        let auth = [("Authorization", "Bearer s3cret")]
        #expect(try await HTTP.json("\(cluster.base)/healthz").status == 200)
        let refused = try await HTTP.json("\(cluster.base)/api/books/")
        #expect(refused.status == 401)
        #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "unauthorized")
        #expect(
            try await HTTP.json("\(cluster.base)/api/books/", headers: [("Authorization", "Bearer wrong")]).status
                == 401)
        #expect(try await HTTP.json("\(cluster.base)/media/books/1/page_0001.mp3").status == 401)
        #expect(try await HTTP.json("\(cluster.base)/api/books/", headers: auth).status == 200)

        let big = try await Self.request(
            .POST, "\(cluster.base)/api/books/upload/", headers: auth + [("Content-Type", "application/pdf")],
            body: try Self.fixture("english-8p"))
        #expect(big.status == 413)
        #expect((big.json["error"] as? [String: Any])?["code"] as? String == "file_too_large")
        let small = try await Self.request(
            .POST, "\(cluster.base)/api/books/upload/", headers: auth + [("Content-Type", "application/pdf")],
            body: try Self.fixture("mixed-3p"))
        #expect(small.status == 200)
        #expect(((try await HTTP.json("\(cluster.base)/api/books/", headers: auth).json["data"]) as? [Any])?.count == 1)
        await cluster.stop()
    }
}
