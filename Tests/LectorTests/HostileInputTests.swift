import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The three requests that brought nodes down or slipped past the token, and the other refusals
/// of the hostile-input issue, against real processes. Each check fails if its refusal is removed.
@Suite(.serialized) struct HostileInputTests {
    typealias Cluster = FaultToleranceTests.Cluster
    static let auth = [("Authorization", "Bearer s3cret")]

    /// `curl --path-as-is`, because HTTP clients (AsyncHTTPClient among them) tidy `//` away.
    static func curl(_ arguments: [String]) throws -> (status: Int, headers: String, body: Data) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("curl-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments =
            [
                "-s", "--path-as-is", "--max-time", "20", "-D", folder.appendingPathComponent("h").path, "-o",
                folder.appendingPathComponent("b").path, "-w", "%{http_code}",
            ] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        process.waitUntilExit()
        let code = Int(String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)) ?? -1
        let headers = (try? String(contentsOf: folder.appendingPathComponent("h"), encoding: .utf8)) ?? ""
        return (code, headers, (try? Data(contentsOf: folder.appendingPathComponent("b"))) ?? Data())
    }

    /// A PDF written here: `pages` pages of `box`, each with `text` (none: a page for OCR), one
    /// line of the content stream per `lines` element when given.
    static func pdf(
        pages: Int = 1, box: String = "0 0 612 792", text: String? = "Hello there.", lines: [String]? = nil
    ) -> Data {
        var objects: [String] = []
        let kids = (0..<pages).map { "\(3 + 2 * $0) 0 R" }.joined(separator: " ")
        objects.append("<< /Type /Catalog /Pages 2 0 R >>")
        objects.append("<< /Type /Pages /Kids [\(kids)] /Count \(pages) >>")
        for index in 0..<pages {
            let content =
                lines.map {
                    "BT /F1 8 Tf 10 \(10 * $0.count + 10) Td 10 TL " + $0.map { "(\($0)) '" }.joined(separator: " ")
                        + " ET"
                }
                ?? text.map { "BT /F1 12 Tf 72 700 Td (\($0)) Tj ET" } ?? ""
            objects.append(
                "<< /Type /Page /Parent 2 0 R /MediaBox [\(box)] /Contents \(4 + 2 * index) 0 R "
                    + "/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>")
            objects.append("<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream")
        }
        return PDFBytes.assemble(objects)
    }

    static func upload(_ cluster: Cluster, _ pdf: Data, query: String = "") async throws -> HTTP.Reply {
        try await HTTP.send(
            .POST, "\(cluster.base)/api/books/upload/\(query)", headers: auth + [("Content-Type", "application/pdf")],
            body: pdf)
    }

    @Test func noSpellingOfAPathGetsPastTheToken() async throws {
        let cluster = try await Cluster.start(workers: 1, extra: "http:\n  api_token: s3cret")
        defer { Task { await cluster.stop() } }
        let book = try #require((try await Self.upload(cluster, Self.pdf())).data?["book_id"] as? Int)
        let base = cluster.base
        for (method, path) in [
            ("GET", "//api/books/"), ("GET", "/api//books/"), ("GET", "///api/books/\(book)/status/"),
            ("GET", "//media/books/\(book)/page_0001.mp3"), ("DELETE", "//api/books/\(book)/"),
            ("GET", "//metrics"), ("GET", "/metrics"), ("GET", "/api/books/\(book)/events/"),
            ("PUT", "//api/books/\(book)/"), ("POST", "/api/books/upload/"),
        ] {
            let answer = try Self.curl(["-X", method, base + path])
            #expect(answer.status == 401, "\(method) \(path) answered \(answer.status)")
        }
        let allowed = try Self.curl(["-H", "Authorization: Bearer s3cret", base + "//api/books/"])
        #expect(allowed.status == 200)
        // Two Authorization headers are not one token.
        let doubled = try Self.curl(
            ["-H", "Authorization: Bearer s3cret", "-H", "Authorization: Bearer other", base + "/api/books/"])
        #expect(doubled.status == 401)
        #expect(try await HTTP.json("\(base)/api/books/\(book)/status/", headers: Self.auth).status == 200)
        #expect(cluster.gateway.isRunning)
    }

    @Test func rangesNeverCrashTheGatewayAndFollowRFC9110() async throws {
        let cluster = try await Cluster.start(workers: 1, extra: "http:\n  api_token: s3cret")
        defer { Task { await cluster.stop() } }
        let book = try #require((try await Self.upload(cluster, Self.pdf())).data?["book_id"] as? Int)
        _ = try await HTTP.waitFor("\(cluster.base)/api/books/\(book)/status/", headers: Self.auth) { json in
            (json["data"] as? [String: Any])?["audio_ready"] as? Bool == true
        }
        let url = "\(cluster.base)/media/books/\(book)/page_0001.mp3"
        let whole = try Self.curl(["-H", "Authorization: Bearer s3cret", url])
        #expect(whole.status == 200)
        let size = whole.body.count
        #expect(size > 1000)
        func ranged(_ range: String) throws -> (status: Int, headers: String, body: Data) {
            try Self.curl(["-H", "Authorization: Bearer s3cret", "-H", "Range: \(range)", url])
        }
        let huge = try ranged("bytes=0-9223372036854775807")
        #expect(huge.status == 206)
        #expect(huge.headers.lowercased().contains("content-range: bytes 0-\(size - 1)/\(size)"))
        #expect(huge.body == whole.body)
        let suffix = try ranged("bytes=-500")
        #expect(suffix.status == 206 && suffix.body == whole.body.suffix(500))
        let open = try ranged("bytes=100-")
        #expect(open.status == 206 && open.body == whole.body.dropFirst(100))
        let past = try ranged("bytes=999999999-")
        #expect(past.status == 416)
        #expect(past.headers.lowercased().contains("content-range: bytes */\(size)"))
        for invalid in ["bytes=5-2", "bytes=abc", "items=0-5"] {
            let answer = try ranged(invalid)
            #expect(answer.status == 200 && answer.body == whole.body, "\(invalid)")
        }
        #expect(cluster.gateway.isRunning)
        #expect(try await HTTP.json("\(cluster.base)/healthz").status == 200)
    }

    @Test func absurdPagesFailAloneWithoutTakingANodeDown() async throws {
        let cluster = try await Cluster.start(workers: 1, extra: "limits:\n  max_pages: 5")
        defer { Task { await cluster.stop() } }
        // No text, so the page goes to OCR, and a box of 10²³ points no renderer can draw (PDF has no
        // exponents: the digits are written out).
        let accepted = try await HTTP.send(
            .POST, "\(cluster.base)/api/books/upload/", headers: [("Content-Type", "application/pdf")],
            body: Self.pdf(box: "0 0 100000000000000000000000 100000000000000000000000", text: nil))
        #expect(accepted.status == 200)
        let book = try #require(accepted.data?["book_id"] as? Int)
        let status = try await cluster.settle(book)
        #expect(status["processing_status"] as? String == "failed")
        let pages = try await HTTP.json("\(cluster.base)/api/books/\(book)/pages/").json
        let page = try #require(((pages["data"] as? [String: Any])?["pages"] as? [[String: Any]])?.first)
        #expect((page["error"] as? String)?.contains("no usable size") == true, "\(page)")
        #expect(cluster.coordinator.isRunning && cluster.gateway.isRunning)

        // More pages than the limit: refused before anything is created.
        let long = try await HTTP.send(
            .POST, "\(cluster.base)/api/books/upload/", headers: [("Content-Type", "application/pdf")],
            body: Self.pdf(pages: 6))
        #expect(long.status == 422)
        #expect(long.errorCode == "too_many_pages")
        let books = try await HTTP.json("\(cluster.base)/api/books/").json["data"] as? [Any]
        #expect(books?.count == 1)
    }

    @Test func uploadFieldsAndPartsAreBounded() async throws {
        let cluster = try await Cluster.start(workers: 1)
        defer { Task { await cluster.stop() } }
        let upload = "\(cluster.base)/api/books/upload/"
        let pdf = Self.pdf()
        let (long, longType) = SSEClient.multipart(
            file: pdf, filename: "a.pdf", fields: ["title": String(repeating: "t", count: 501)])
        let tooLong = try await HTTP.send(.POST, upload, headers: [("Content-Type", longType)], body: long)
        #expect(tooLong.status == 400 && tooLong.errorCode == "field_too_long", "\(tooLong.json)")

        // A title of 500 characters, the last one split across two reads of the body, arrives whole.
        let title = String(repeating: "é", count: 500)
        let (fine, fineType) = SSEClient.multipart(file: pdf, filename: "a.pdf", fields: ["title": title])
        let accepted = try await HTTP.send(
            .POST, upload, headers: [("Content-Type", fineType)], body: fine, chunked: true)
        #expect(accepted.status == 200, "\(accepted.json)")
        let id = try #require(accepted.data?["book_id"] as? Int)
        let status = try await HTTP.json("\(cluster.base)/api/books/\(id)/status/").json
        #expect((status["data"] as? [String: Any])?["title"] as? String == title)

        let boundary = "XyZ"
        var twice = Data()
        for name in ["one.pdf", "two.pdf"] {
            twice += Data(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: application/pdf\r\n\r\n"
                    .utf8)
            twice += pdf + Data("\r\n".utf8)
        }
        twice += Data("--\(boundary)--\r\n".utf8)
        let two = try await HTTP.send(
            .POST, upload, headers: [("Content-Type", "multipart/form-data; boundary=\(boundary)")], body: twice)
        #expect(two.status == 400 && two.errorCode == "multiple_files", "\(two.json)")
        // Cut off before its closing delimiter: the last part cannot be trusted.
        let cut =
            Data(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n".utf8) + pdf
        let truncated = try await HTTP.send(
            .POST, upload, headers: [("Content-Type", "multipart/form-data; boundary=\(boundary)")], body: cut)
        #expect(truncated.status == 400 && truncated.errorCode == "bad_multipart", "\(truncated.json)")
        // MultipartKit traps on an empty boundary; the gateway must refuse it first.
        let empty = try await HTTP.send(
            .POST, upload, headers: [("Content-Type", "multipart/form-data; boundary=")], body: twice)
        #expect(empty.status == 400)
        let endless = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"".utf8) + Data(count: 100_000)
        let header = try await HTTP.send(
            .POST, upload, headers: [("Content-Type", "multipart/form-data; boundary=\(boundary)")], body: endless)
        #expect(header.status == 400)
        #expect(cluster.gateway.isRunning)
        let books = try await HTTP.json("\(cluster.base)/api/books/").json["data"] as? [Any]
        #expect(books?.count == 1)

        // Pages come in slices with the next offset.
        let first = try await HTTP.json("\(cluster.base)/api/books/\(id)/pages/?limit=5000").json
        #expect((first["data"] as? [String: Any])?["limit"] as? Int == 200)
        #expect((first["data"] as? [String: Any])?["next_offset"] is NSNull)
    }

    /// A page whose MP3 is larger than a message may be (16 MiB) and a page too large to render
    /// at 300 dpi: both travel in pieces and are voiced.
    @Test func aSixtyMinutePageAndALargeFormatScanAreVoiced() async throws {
        let cluster = try await Cluster.start(workers: 1, timings: "  job_lease: 600s\n")
        defer { Task { await cluster.stop() } }
        let words = "the listener hears every word of this long page read aloud slowly and clearly tonight".split(
            separator: " ")
        // About 80 000 characters on one tall page: over an hour of espeak-ng (about 20 a second).
        // The words vary from line to line (a fixed pattern), as a real page's do.
        let lines = (0..<1500).map { line in
            (0..<10).map { word in String(words[(line * 7 + word * 3 + line / 13) % words.count]) }
                .joined(separator: " ") + "."
        }
        let long = try await HTTP.send(
            .POST, "\(cluster.base)/api/books/upload/?language=english", headers: [("Content-Type", "application/pdf")],
            body: Self.pdf(box: "0 0 2000 \(10 * lines.count + 20)", lines: lines))
        #expect(long.status == 200, "\(long.json)")
        let longBook = try #require(long.data?["book_id"] as? Int)
        let scan = try await HTTP.send(
            .POST, "\(cluster.base)/api/books/upload/?language=english", headers: [("Content-Type", "application/pdf")],
            body: try BookPipelineTests.fixture("large-format-scan"))
        #expect(scan.status == 200, "\(scan.json)")
        let scanBook = try #require(scan.data?["book_id"] as? Int)

        let settled = try await cluster.settle(longBook, timeout: .seconds(900))
        let longPage = try #require(try await BookPipelineTests.pagesOf(cluster.base, longBook).first)
        #expect(settled["processing_status"] as? String == "completed", "\(longPage["error"] ?? "")")
        let seconds = try #require(longPage["audio_duration"] as? Int)
        #expect(seconds > 3600, "\(seconds) s")
        let mp3 = try await HTTP.get("\(cluster.base)/media/books/\(longBook)/page_0001.mp3", timeout: .seconds(60))
        #expect(mp3.status == 200)
        #expect(mp3.body.count > 16 << 20, "\(mp3.body.count) bytes")

        #expect(
            try await cluster.settle(scanBook, timeout: .seconds(300))["processing_status"] as? String == "completed")
        let scanPage = try #require(try await BookPipelineTests.pagesOf(cluster.base, scanBook).first)
        #expect(scanPage["text_source"] as? String == "ocr")
        let text = (scanPage["text_content"] as? String ?? "").lowercased()
        #expect(text.contains("general public license"), "\(text.prefix(300))")
        #expect(scanPage["audio_url"] is String)
        #expect(cluster.coordinator.isRunning && cluster.gateway.isRunning)
    }

    /// The pids of a node's native helpers (`lector native-helper` children).
    static func helpers(of parent: Int32) -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> Int32? in
            guard let pid = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")"),
                let ppid = stat[stat.index(after: close)...].split(separator: " ").dropFirst(1).first.flatMap({
                    Int32($0)
                }),
                ppid == parent,
                let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                String(decoding: command, as: UTF8.self).contains("native-helper")
            else { return nil }
            return pid
        }
    }

    /// Tesseract runs in a helper process: killing it mid-page (as a crash in the library would)
    /// costs that attempt of the page, never the worker, and the retry reads the page.
    @Test func aCrashInsideTesseractCostsThePageNotTheWorker() async throws {
        let cluster = try await Cluster.start(workers: 1)
        defer { Task { await cluster.stop() } }
        let worker = try #require(cluster.workers["worker-1"])
        let upload = try await HTTP.send(
            .POST, "\(cluster.base)/api/books/upload/?language=english", headers: [("Content-Type", "application/pdf")],
            body: try BookPipelineTests.fixture("scanned-2p"))
        let book = try #require(upload.data?["book_id"] as? Int, "\(upload.status) \(upload.json)")
        let deadline = ContinuousClock.now + .seconds(60)
        var killed: Int32?
        while killed == nil, ContinuousClock.now < deadline {
            if let helper = Self.helpers(of: worker.pid).first {
                kill(helper, SIGKILL)
                killed = helper
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        #expect(killed != nil, "no OCR helper appeared")
        let status = try await cluster.settle(book, timeout: .seconds(180))
        #expect(status["processing_status"] as? String == "completed", "\(status)")
        #expect(worker.isRunning)
        // The attempt that lost its helper failed with the reason, and was retried.
        #expect(
            cluster.coordinator.output.contains("Tesseract crashed on this page"),
            "\(cluster.coordinator.output.suffix(1500))")
        let pages = try await BookPipelineTests.pagesOf(cluster.base, book)
        #expect(pages.allSatisfy { $0["text_source"] as? String == "ocr" })
        #expect(cluster.coordinator.isRunning)
    }

    /// Poppler and cairo run in the coordinator's helper process: killing it mid-render costs that
    /// attempt, never the coordinator.
    @Test func aCrashInsideTheRendererCostsThePageNotTheCoordinator() async throws {
        let cluster = try await Cluster.start(workers: 1)
        defer { Task { await cluster.stop() } }
        let upload = try await HTTP.send(
            .POST, "\(cluster.base)/api/books/upload/?language=english", headers: [("Content-Type", "application/pdf")],
            body: try BookPipelineTests.fixture("large-format-scan"))
        let book = try #require(upload.data?["book_id"] as? Int, "\(upload.status) \(upload.json)")
        let deadline = ContinuousClock.now + .seconds(60)
        var killed = false
        while !killed, ContinuousClock.now < deadline {
            if let helper = Self.helpers(of: cluster.coordinator.pid).first {
                kill(helper, SIGKILL)
                killed = true
            } else {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        #expect(killed, "no render helper appeared")
        let status = try await cluster.settle(book, timeout: .seconds(300))
        #expect(status["processing_status"] as? String == "completed", "\(status)")
        #expect(cluster.coordinator.isRunning)
        #expect(
            cluster.coordinator.output.contains("crashed the PDF renderer"),
            "\(cluster.coordinator.output.suffix(1500))")
    }
}
