import AsyncHTTPClient
import Foundation
import GRDB
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
        async throws -> HTTP.Reply
    {
        try await HTTP.send(method, url, headers: headers, body: body)
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

    /// What a refused upload must not leave: rows in the book table, audio folders, spooled files.
    struct Leftovers: Equatable, CustomStringConvertible {
        var books: Int
        var pages: Int
        var audio: [String]
        var spooled: [String]

        static let none = Leftovers(books: 0, pages: 0, audio: [], spooled: [])

        static func of(_ cluster: Cluster) throws -> Leftovers {
            let data = cluster.files.folder.appendingPathComponent("data")
            let files = FileManager.default
            var configuration = Configuration()
            configuration.readonly = true
            let database = try DatabaseQueue(
                path: data.appendingPathComponent("lector.sqlite").path, configuration: configuration)
            let (books, pages) = try database.read { db in
                (
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM book") ?? -1,
                    try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM page") ?? -1
                )
            }
            return Leftovers(
                books: books, pages: pages,
                audio: (try? files.contentsOfDirectory(atPath: data.appendingPathComponent("audio/books").path)) ?? [],
                spooled: (try? files.contentsOfDirectory(atPath: data.appendingPathComponent("uploads").path)) ?? [])
        }

        var description: String { "books \(books), pages \(pages), audio \(audio), spooled \(spooled)" }
    }

    /// Runs `body` against a fresh cluster and stops it afterwards, also when `body` throws.
    static func withCluster(
        workers: Int, extra: String = "", _ body: (Cluster) async throws -> Void
    ) async throws {
        let cluster = try await Cluster.start(workers: workers, extra: extra)
        do {
            try await body(cluster)
        } catch {
            await cluster.stop()
            throw error
        }
        await cluster.stop()
    }

    static func pagesOf(_ base: String, _ book: Int) async throws -> [[String: Any]] {
        let json = try await HTTP.json("\(base)/api/books/\(book)/pages/").json
        return (json["data"] as? [String: Any])?["pages"] as? [[String: Any]] ?? []
    }

    static func pages(_ cluster: Cluster, _ book: Int, query: String = "") async throws -> [[String: Any]] {
        let json = try await HTTP.json("\(cluster.base)/api/books/\(book)/pages/\(query)").json
        return (json["data"] as? [String: Any])?["pages"] as? [[String: Any]] ?? []
    }

    @Test func streamedUploadsBecomeAudioForEveryPage() async throws {
        try await Self.withCluster(workers: 2) { cluster in
            for (name, voice) in [("english-8p", "en"), ("hindi-8p", "hi")] {
                // The original clients send `pdf_file`, and browsers may put the text fields after the file.
                let (body, type) =
                    name == "hindi-8p"
                    ? SSEClient.multipart(
                        file: try Self.fixture(name), field: "pdf_file", filename: "\(name).pdf",
                        fieldsAfter: ["title": "Sample \(name)", "language": "hindi", "author": "Someone"])
                    : SSEClient.multipart(
                        file: try Self.fixture(name), filename: "\(name).pdf", fields: ["title": "Sample \(name)"])
                let (status, events) = try await SSEClient.post(
                    "\(cluster.base)/api/books/upload/?stream=true", body: body, contentType: type)
                #expect(status == 200)
                #expect(
                    events.map(\.name) == ["status", "processing_started"] + Array(repeating: "text_progress", count: 8)
                        + [
                            "completed"
                        ])
                try #require(events.count == 11, "\(events.map(\.name))")
                #expect((events[0].data["message"] as? String)?.isEmpty == false)
                #expect(Set(events[1].data.keys) == ["total_pages", "message"])
                #expect(events[1].data["total_pages"] as? Int == 8)
                #expect(
                    events.filter { $0.name == "text_progress" }.compactMap { $0.data["current_page"] as? Int }
                        == Array(1...8))
                for event in events where event.name == "text_progress" {
                    #expect(
                        Set(event.data.keys) == [
                            "current_page", "total_pages", "progress", "message", "chars", "text_source",
                        ])
                    #expect(event.data["text_source"] as? String == "pdf")
                    #expect(event.data["total_pages"] as? Int == 8)
                    #expect((event.data["chars"] as? Int ?? 0) > 500)
                }
                #expect(events.last(where: { $0.name == "text_progress" })?.data["progress"] as? Int == 100)
                let completed = events.last!.data
                #expect(Set(completed.keys) == ["book_id", "title", "total_pages", "status_url", "message"])
                let book = try #require(completed["book_id"] as? Int)
                #expect(completed["status_url"] as? String == "/api/books/\(book)/status/")
                #expect(completed["title"] as? String == "Sample \(name)")
                #expect(completed["total_pages"] as? Int == 8)
                #expect(
                    completed["message"] as? String == "Upload completed! Audio generation is running in background.")

                let final = try await cluster.settle(book)
                #expect(final["processing_status"] as? String == "completed")
                #expect(final["audio_ready"] as? Bool == true)
                #expect(final["processing_progress"] as? Int == 100)
                #expect(final["estimated_time_remaining"] as? String == "Complete!")
                #expect(final["pages_with_audio"] as? Int == 8)
                #expect(final["total_pages"] as? Int == 8)
                #expect(
                    final["pages_status"] as? [String: Int] == [
                        "pending": 0, "processing": 0, "completed": 8, "failed": 0,
                    ])
                #expect(
                    Set(final.keys) == [
                        "book_id", "title", "processing_status", "processing_progress", "total_pages", "pages_status",
                        "audio_ready", "pages_with_audio", "estimated_time_remaining", "created_at", "last_updated",
                    ])

                let pagesJSON = try await HTTP.json("\(cluster.base)/api/books/\(book)/pages/").json
                #expect(pagesJSON["status"] as? String == "PASS")
                let data = try #require(pagesJSON["data"] as? [String: Any])
                let bookJSON = data["book"] as? [String: Any] ?? [:]
                #expect(Set(bookJSON.keys) == ["id", "title", "total_pages", "processing_status"])
                #expect(bookJSON["id"] as? Int == book)
                #expect(bookJSON["processing_status"] as? String == "completed")
                let pages = data["pages"] as? [[String: Any]] ?? []
                #expect(pages.compactMap { $0["page_number"] as? Int } == Array(1...8))
                for page in pages {
                    #expect(
                        Set(page.keys) == [
                            "id", "page_number", "text_content", "audio_url", "audio_duration", "processing_status",
                            "voice", "text_source", "language", "ocr_confidence", "text_quality", "segments", "engine",
                        ])
                    #expect(page["processing_status"] as? String == "completed")
                    #expect((page["text_content"] as? String ?? "").count > 500)
                    #expect(page["voice"] as? String == voice)
                    #expect(page["text_source"] as? String == "pdf")
                    let url = try #require(page["audio_url"] as? String)
                    #expect(
                        url == String(format: "/media/books/\(book)/page_%04d.mp3", page["page_number"] as? Int ?? 0))
                    let audio = try await Self.request(.GET, "\(cluster.base)\(url)")
                    #expect(audio.status == 200)
                    #expect(audio.headers["Content-Type"].first == "audio/mpeg")
                    #expect(audio.headers["Accept-Ranges"].first == "bytes")
                    let decoded = try Self.probeDuration(audio.body)
                    #expect(decoded > 1)
                    #expect(abs(decoded - Double(page["audio_duration"] as? Int ?? -9)) <= 1, "\(url): \(decoded)")
                }
                // A range request returns exactly the bytes asked for, in all three forms.
                let url = try #require(pages.first?["audio_url"] as? String)
                let full = try await Self.request(.GET, "\(cluster.base)\(url)").body
                try #require(full.count > 2000)
                let part = try await Self.request(
                    .GET, "\(cluster.base)\(url)", headers: [("Range", "bytes=1000-1999")])
                #expect(part.status == 206)
                #expect(part.body == full[1000..<2000])
                #expect(part.headers["Content-Range"].first == "bytes 1000-1999/\(full.count)")
                #expect(part.headers["Content-Type"].first == "audio/mpeg")
                let open = try await Self.request(.GET, "\(cluster.base)\(url)", headers: [("Range", "bytes=1500-")])
                #expect(open.status == 206)
                #expect(open.body == full[1500...])
                #expect(open.headers["Content-Range"].first == "bytes 1500-\(full.count - 1)/\(full.count)")
                let tail = try await Self.request(.GET, "\(cluster.base)\(url)", headers: [("Range", "bytes=-100")])
                #expect(tail.status == 206)
                #expect(tail.body == full.suffix(100))
                #expect(
                    tail.headers["Content-Range"].first == "bytes \(full.count - 100)-\(full.count - 1)/\(full.count)")
                let outside = try await Self.request(
                    .GET, "\(cluster.base)\(url)", headers: [("Range", "bytes=\(full.count + 10)-")])
                #expect(outside.status == 416)
                #expect(outside.headers["Content-Range"].first == "bytes */\(full.count)")
                // HEAD tells the size without the bytes.
                let head = try await Self.request(.HEAD, "\(cluster.base)\(url)")
                #expect(head.status == 200)
                #expect(head.headers["Content-Length"].first == "\(full.count)")
                #expect(head.body.isEmpty)

                let window = try await Self.pages(cluster, book, query: "?offset=6&limit=5")
                #expect(window.compactMap { $0["page_number"] as? Int } == [7, 8])
                let first = try await Self.pages(cluster, book, query: "?limit=3")
                #expect(first.compactMap { $0["page_number"] as? Int } == [1, 2, 3])
                let beyond = try await Self.pages(cluster, book, query: "?offset=20")
                #expect(beyond.isEmpty)
            }
            let list = try await HTTP.json("\(cluster.base)/api/books/")
            #expect(list.json["status"] as? String == "PASS")
            let books = list.json["data"] as? [[String: Any]] ?? []
            #expect(books.count == 2)
            #expect(Set(books.compactMap { $0["title"] as? String }) == ["Sample english-8p", "Sample hindi-8p"])
            #expect(
                books.allSatisfy {
                    Set($0.keys) == [
                        "id", "title", "total_pages", "processing_status", "processing_progress", "created_at",
                    ]
                        && $0["processing_status"] as? String == "completed" && $0["processing_progress"] as? Int == 100
                })
        }
    }

    @Test func badInputIsRefusedAndLeavesNothingBehind() async throws {
        try await Self.withCluster(workers: 1) { cluster in
            func expectRefused(
                _ label: String, _ answer: HTTP.Reply, _ status: Int, _ code: String,
                sourceLocation: SourceLocation = #_sourceLocation
            ) async throws {
                #expect(answer.status == status, "\(label)", sourceLocation: sourceLocation)
                #expect(answer.json["status"] as? String == "FAIL", "\(label)", sourceLocation: sourceLocation)
                #expect(answer.json["data"] is NSNull, "\(label)", sourceLocation: sourceLocation)
                #expect(answer.errorCode == code, "\(label)", sourceLocation: sourceLocation)
                #expect((answer.json["message"] as? String)?.isEmpty == false, sourceLocation: sourceLocation)
                let books = try await HTTP.json("\(cluster.base)/api/books/").json["data"] as? [Any]
                #expect(books?.count == 0, "\(label) left a book", sourceLocation: sourceLocation)
                #expect(try Leftovers.of(cluster) == .none, "\(label) left something", sourceLocation: sourceLocation)
                #expect(cluster.coordinator.isRunning, "\(label)", sourceLocation: sourceLocation)
            }
            let upload = "\(cluster.base)/api/books/upload/"
            let raw: [(String, String, Data, String, Int, String)] = [
                ("not a PDF", "", try Self.fixture("not-a-pdf"), "application/pdf", 415, "not_a_pdf"),
                ("encrypted", "", try Self.fixture("encrypted"), "application/pdf", 422, "pdf_encrypted"),
                ("truncated", "", try Self.fixture("truncated"), "application/pdf", 422, "pdf_damaged"),
                ("empty body", "", Data(), "application/pdf", 400, "missing_file"),
                ("plain text", "", Data("hello".utf8), "text/plain", 415, "not_a_pdf"),
                (
                    "bad language", "?language=klingon!", try Self.fixture("mixed-3p"), "application/pdf", 400,
                    "invalid_language"
                ),
            ]
            for (label, query, body, type, status, code) in raw {
                let answer = try await Self.request(
                    .POST, upload + query, headers: [("Content-Type", type)], body: body)
                try await expectRefused(label, answer, status, code)
            }
            // The same refusals when the body is streamed without a length: found while reading.
            for (label, name, status, code) in [
                ("chunked encrypted", "encrypted", 422, "pdf_encrypted"),
                ("chunked text", "not-a-pdf", 415, "not_a_pdf"),
            ] {
                let answer = try await HTTP.send(
                    .POST, upload, headers: [("Content-Type", "application/pdf")], body: try Self.fixture(name),
                    chunked: true)
                try await expectRefused(label, answer, status, code)
            }
            let multipart: [(String, (Data, String), Int, String)] = [
                (
                    "no file part", SSEClient.multipart(file: nil, filename: "", fields: ["title": "Nothing"]), 400,
                    "missing_file"
                ),
                ("empty file part", SSEClient.multipart(file: Data(), filename: "empty.pdf"), 400, "missing_file"),
                (
                    "language after the file",
                    SSEClient.multipart(
                        file: try Self.fixture("mixed-3p"), filename: "m.pdf",
                        fieldsAfter: ["language": "not a language"]),
                    400, "invalid_language"
                ),
                (
                    "multipart not a PDF", SSEClient.multipart(file: try Self.fixture("not-a-pdf"), filename: "x.pdf"),
                    415, "not_a_pdf"
                ),
                (
                    "multipart truncated", SSEClient.multipart(file: try Self.fixture("truncated"), filename: "t.pdf"),
                    422, "pdf_damaged"
                ),
            ]
            for (label, (body, type), status, code) in multipart {
                let answer = try await Self.request(.POST, upload, headers: [("Content-Type", type)], body: body)
                try await expectRefused(label, answer, status, code)
            }

            // Refused before the stream starts: the status, with a single `error` event as the body.
            let (locked, lockedType) = SSEClient.multipart(file: try Self.fixture("encrypted"), filename: "locked.pdf")
            let (status, events) = try await SSEClient.post(
                "\(upload)?stream=true", body: locked, contentType: lockedType)
            #expect(status == 422)
            #expect(events.map(\.name) == ["error"])
            #expect(Set(events.first.map { Array($0.data.keys) } ?? []) == ["error", "details"])
            #expect((events.first?.data["error"] as? String)?.contains("encrypted") == true)
            let (textStatus, textEvents) = try await SSEClient.post(
                "\(upload)?stream=true", body: try Self.fixture("not-a-pdf"), contentType: "application/pdf")
            #expect(textStatus == 415)
            #expect(textEvents.map(\.name) == ["error"])
            #expect(try Leftovers.of(cluster) == .none)

            for (path, code) in [
                ("/api/books/999/status/", 404), ("/api/books/999/pages/", 404), ("/api/books/abc/pages/", 404),
                ("/api/books/-1/status/", 404), ("/api/books/1/pages/?limit=0", 400),
                // A limit above 200 is clamped, not refused: here the book itself is missing.
                ("/api/books/1/pages/?limit=1001", 404),
                ("/api/books/1/pages/?offset=-1", 400), ("/api/books/1/pages/?offset=x", 400),
                ("/media/books/1/..%2F..%2Fcluster.yaml", 404), ("/media/books/1/page_1.mp3", 404),
                ("/media/books/1/page_0001.wav", 404), ("/media/books/x/page_0001.mp3", 404),
                ("/media/books/1/page_0001.mp3", 404),
            ] {
                let answer = try await HTTP.json("\(cluster.base)\(path)")
                #expect(answer.status == code, "\(path)")
                #expect(answer.json["status"] as? String == "FAIL", "\(path)")
            }
            #expect(try await Self.request(.POST, "\(cluster.base)/api/books/999/retry/").status == 404)
            #expect(try await Self.request(.DELETE, "\(cluster.base)/api/books/999/").status == 404)

            // Garbage in the middle: poppler still opens the file, but the last page's objects are gone.
            // The readable pages are kept, the other fails with a reason.
            var damaged = try Self.fixture("english-8p")
            let middle = damaged.count / 2
            damaged.replaceSubrange(middle..<middle + 4000, with: Data(count: 4000))
            let answer = try await Self.request(
                .POST, "\(upload)?title=damaged", headers: [("Content-Type", "application/pdf")], body: damaged)
            #expect(answer.status == 200)
            let book = try #require(answer.data?["book_id"] as? Int)
            let final = try await cluster.settle(book)
            let counts = final["pages_status"] as? [String: Int] ?? [:]
            let failed = counts["failed"] ?? 0
            #expect(failed >= 1 && (counts["completed"] ?? 0) >= 5, "\(final)")
            #expect(final["processing_status"] as? String == "failed")
            #expect(final["audio_ready"] as? Bool == false)
            let pages = try await Self.pages(cluster, book)
            let unreadable = pages.filter { $0["processing_status"] as? String == "failed" }
            #expect(unreadable.count == failed)
            for page in unreadable {
                #expect((page["error"] as? String)?.contains("could not be read") == true, "\(page)")
                #expect(page["audio_url"] is NSNull)
            }
            for page in pages where page["processing_status"] as? String == "completed" {
                #expect(page["error"] == nil)
                #expect(page["audio_url"] is String)
            }
            // Asking again cannot make an unreadable page readable: it must not turn `completed`
            // (with no text and no audio) and make the book look done.
            let retry = try await Self.request(.POST, "\(cluster.base)/api/books/\(book)/retry/")
            #expect(retry.status == 200)
            let afterRetry = try await cluster.settle(book)
            #expect(afterRetry["audio_ready"] as? Bool == false, "\(afterRetry)")
            #expect((afterRetry["pages_status"] as? [String: Int])?["failed"] == failed, "\(afterRetry)")
            #expect(cluster.coordinator.isRunning)
        }
    }

    @Test func deleteRemovesEverythingAndRetryRequeuesFailedPages() async throws {
        try await Self.withCluster(workers: 1) { cluster in
            // Multipart with the title after the file part.
            let (form, formType) = SSEClient.multipart(
                file: try Self.fixture("mixed-3p"), filename: "mixed-3p.pdf",
                fieldsAfter: ["title": "Mixed scripts", "author": "A. Writer"])
            let created = try await Self.request(
                .POST, "\(cluster.base)/api/books/upload/", headers: [("Content-Type", formType)], body: form)
            #expect(created.status == 200)
            #expect(created.json["status"] as? String == "PASS")
            #expect(
                Set(created.data.map { Array($0.keys) } ?? []) == [
                    "book_id", "title", "total_pages", "status_url", "message",
                ])
            #expect(created.data?["title"] as? String == "Mixed scripts")
            #expect(created.data?["total_pages"] as? Int == 3)
            let book = try #require(created.data?["book_id"] as? Int)
            let final = try await cluster.settle(book)
            #expect(final["processing_status"] as? String == "completed")
            #expect(final["title"] as? String == "Mixed scripts")
            let pages = try await Self.pages(cluster, book)
            #expect(pages.map { $0["voice"] as? String } == ["en", "hi", nil])
            // The blank page completes with nothing to say: null, not missing.
            #expect(pages[2]["audio_url"] is NSNull)
            #expect(pages[2]["audio_duration"] is NSNull)
            #expect(pages[2]["voice"] is NSNull)
            #expect(final["pages_with_audio"] as? Int == 2)
            #expect(cluster.audioFiles(book) == ["page_0001.mp3", "page_0002.mp3"])

            let nothing = try await Self.request(.POST, "\(cluster.base)/api/books/\(book)/retry/")
            #expect(nothing.status == 200)
            #expect(nothing.data?["requeued_pages"] as? Int == 0)

            let deleted = try await Self.request(.DELETE, "\(cluster.base)/api/books/\(book)/")
            #expect(deleted.status == 200)
            #expect(deleted.json["status"] as? String == "PASS")
            #expect(try await HTTP.json("\(cluster.base)/api/books/\(book)/status/").status == 404)
            #expect(try await HTTP.json("\(cluster.base)/api/books/\(book)/pages/").status == 404)
            #expect(try await Self.request(.GET, "\(cluster.base)/media/books/\(book)/page_0001.mp3").status == 404)
            #expect(cluster.audioFiles(book).isEmpty)
            #expect(
                !FileManager.default.fileExists(
                    atPath: cluster.files.folder.appendingPathComponent("data/audio/books/\(book)").path))
            #expect(try await Self.request(.DELETE, "\(cluster.base)/api/books/\(book)/").status == 404)
            #expect(try Leftovers.of(cluster).books == 0)

            // A voice espeak-ng does not have: every spoken page fails after its attempts; retry queues
            // exactly those again.
            let bad = try await cluster.upload("mixed-3p", query: "&voice=zz")
            let failedOnce = try await cluster.settle(bad)
            #expect(failedOnce["processing_status"] as? String == "failed")
            #expect((failedOnce["pages_status"] as? [String: Int])?["failed"] == 2)
            for page in try await Self.pages(cluster, bad) where page["page_number"] as? Int != 3 {
                #expect(page["processing_status"] as? String == "failed")
                #expect((page["error"] as? String)?.contains("zz") == true, "\(page)")
            }
            let retry = try await Self.request(.POST, "\(cluster.base)/api/books/\(bad)/retry/")
            #expect(retry.status == 200)
            #expect(retry.data?["requeued_pages"] as? Int == 2)
            #expect(retry.data?["book_id"] as? Int == bad)
            let requeued = try await cluster.status(bad)
            #expect(["pending", "processing"].contains(requeued["processing_status"] as? String), "\(requeued)")
            let failedAgain = try await cluster.settle(bad)
            #expect(failedAgain["processing_status"] as? String == "failed")
            #expect((failedAgain["pages_status"] as? [String: Int])?["failed"] == 2)

            // Progress streams as it happens: forty pages arrive over many reads, not in one piece.
            let (long, longType) = SSEClient.multipart(file: try Self.fixture("english-40p"), filename: "long.pdf")
            let (status, events) = try await SSEClient.post(
                "\(cluster.base)/api/books/upload/?stream=true", body: long, contentType: longType)
            #expect(status == 200)
            let progress = events.filter { $0.name == "text_progress" }
            #expect(progress.compactMap { $0.data["current_page"] as? Int } == Array(1...40))
            #expect(Set(events.map(\.chunk)).count >= 4, "all events came in \(Set(events.map(\.chunk)).count) reads")
            let longBook = try #require(events.last?.data["book_id"] as? Int)
            // Deleting a book while its pages are being voiced: nothing of it stays on disk.
            try await cluster.waitForCompleted(longBook, atLeast: 1)
            #expect(try await Self.request(.DELETE, "\(cluster.base)/api/books/\(longBook)/").status == 200)
            try await Task.sleep(for: .seconds(3))
            #expect(cluster.audioFiles(longBook).isEmpty, "\(cluster.audioFiles(longBook)) left after delete")
            #expect(try await HTTP.json("\(cluster.base)/api/books/\(longBook)/status/").status == 404)
        }
    }

    @Test func uploadLimitAndAPIToken() async throws {
        try await Self.withCluster(workers: 1, extra: "http:\n  max_upload_bytes: 40000\n  api_token: s3cret") {
            cluster in
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

            let upload = "\(cluster.base)/api/books/upload/"
            let pdf = [("Content-Type", "application/pdf")]
            let big = try Self.fixture("english-8p")
            // Announced too large, streamed too large (no length given), and as multipart.
            let (form, formType) = SSEClient.multipart(file: big, filename: "big.pdf")
            let answers = [
                ("length", try await Self.request(.POST, upload, headers: auth + pdf, body: big)),
                ("chunked", try await HTTP.send(.POST, upload, headers: auth + pdf, body: big, chunked: true)),
                (
                    "multipart",
                    try await HTTP.send(.POST, upload, headers: auth + [("Content-Type", formType)], body: form)
                ),
                (
                    "chunked multipart",
                    try await HTTP.send(
                        .POST, upload, headers: auth + [("Content-Type", formType)], body: form, chunked: true)
                ),
            ]
            for (label, answer) in answers {
                #expect(answer.status == 413, "\(label)")
                #expect(answer.errorCode == "file_too_large", "\(label)")
                #expect(answer.json["status"] as? String == "FAIL", "\(label)")
                #expect(try Leftovers.of(cluster) == .none, "\(label)")
            }
            #expect(cluster.coordinator.isRunning)
            let small = try await Self.request(.POST, upload, headers: auth + pdf, body: try Self.fixture("mixed-3p"))
            #expect(small.status == 200)
            #expect(
                ((try await HTTP.json("\(cluster.base)/api/books/", headers: auth).json["data"]) as? [Any])?.count == 1)
        }
    }
}
