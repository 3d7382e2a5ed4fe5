import ArgumentParser
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// `lector upload FILE.pdf`: sends the PDF, shows text extraction as it happens and, with
/// `--wait`, the audio being made, until the book is ready.
struct UploadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload", abstract: "Upload a PDF and follow its progress.")

    @Argument(help: "The PDF file.") var file: String
    @OptionGroup var options: ClientOptions
    @Option(help: "The book's title (default: the file name).") var title: String?
    @Option(help: "hindi, english, hinglish, marathi or an espeak-ng code.") var language: String?
    @Option(help: "A voice for every page: joe (natural) or an espeak-ng voice.") var voice: String?
    @Option(help: "natural (a neural voice where there is one, about 0.15 CPU-s per audio second) or fast (espeak-ng).")
    var quality: String?
    @Flag(help: "Follow the book until its audio is ready; exit non-zero if pages failed.") var wait = false

    func run() async throws {
        try await runClient {
            let client = options.client
            let url = URL(fileURLWithPath: file)
            guard let data = try? Data(contentsOf: url, options: .alwaysMapped) else {
                throw LectorClient.Failure(message: "Cannot read \(file).", exitCode: 1)
            }
            let book = try await upload(data, name: url.lastPathComponent, with: client)
            if wait { try await follow(book, with: client) }
        }
    }

    func upload(_ data: Data, name: String, with client: LectorClient) async throws -> Int {
        var query = ["stream=true", "filename=\(escape(name))"]
        if let title { query.append("title=\(escape(title))") }
        if let language { query.append("language=\(escape(language))") }
        if let voice { query.append("voice=\(escape(voice))") }
        if let quality { query.append("quality=\(escape(quality))") }
        var request = client.request("/api/books/upload/?" + query.joined(separator: "&"), method: .POST)
        request.headers.add(name: "Content-Type", value: "application/pdf")
        request.body = .bytes(ByteBuffer(bytes: data))
        let response = try await client.execute(request, timeout: .minutes(30))
        guard response.status == .ok else {
            let body = try await response.body.collect(upTo: 1 << 20)
            throw LectorClient.Failure(message: LectorClient.message(status: response.status, body: Data(buffer: body)))
        }
        var parser = ServerEventParser()
        var bar = ProgressBar(title: "Extracting text")
        var ocrPages = 0
        for try await chunk in response.body {
            for event in parser.feed(chunk.readableBytesView) {
                let json = event.json
                switch event.name {
                case "processing_started":
                    bar.update(done: 0, total: json["total_pages"] as? Int ?? 0)
                case "text_progress":
                    if json["text_source"] as? String == "ocr" { ocrPages += 1 }
                    bar.update(
                        done: json["current_page"] as? Int ?? 0, total: json["total_pages"] as? Int ?? 0,
                        detail: ocrPages > 0 ? "\(ocrPages) page(s) to OCR" : "")
                case "completed":
                    bar.finish()
                    let id = json["book_id"] as? Int ?? 0
                    print("Book \(id) “\(json["title"] as? String ?? "")”: \(json["total_pages"] as? Int ?? 0) pages.")
                    print(json["message"] as? String ?? "")
                    return id
                case "error":
                    bar.finish()
                    throw LectorClient.Failure(message: json["error"] as? String ?? "The upload failed.")
                default:
                    break
                }
            }
        }
        bar.finish()
        throw LectorClient.Failure(message: "The server closed the upload stream before the book was created.")
    }

    /// Follows `GET …/events/`, reconnecting with `Last-Event-ID` if the stream drops.
    func follow(_ book: Int, with client: LectorClient) async throws {
        var bar = ProgressBar(title: "Generating audio")
        var lastEventID: String?
        var attempts = 0
        // Bounded: a coordinator restart ends the stream (and answers 503 for a few seconds).
        while attempts < 60 {
            attempts += 1
            var request = client.request("/api/books/\(book)/events/")
            if let lastEventID { request.headers.add(name: "Last-Event-ID", value: lastEventID) }
            do {
                let response = try await client.execute(request, timeout: .hours(24))
                if response.status == .serviceUnavailable {
                    _ = try? await response.body.collect(upTo: 1 << 20)
                    try await Task.sleep(for: .seconds(1))
                    continue
                }
                guard response.status == .ok else {
                    let body = try await response.body.collect(upTo: 1 << 20)
                    throw LectorClient.Failure(
                        message: LectorClient.message(status: response.status, body: Data(buffer: body)))
                }
                var parser = ServerEventParser()
                for try await chunk in response.body {
                    for event in parser.feed(chunk.readableBytesView) {
                        if let id = event.id { lastEventID = id }
                        let json = event.json
                        switch event.name {
                        case "status", "progress":
                            let pages = json["pages_status"] as? [String: Any] ?? [:]
                            let done = (pages["completed"] as? Int ?? 0) + (pages["failed"] as? Int ?? 0)
                            bar.update(
                                done: done, total: json["total_pages"] as? Int ?? 0,
                                detail: "ETA \(json["estimated_time_remaining"] as? String ?? "…")")
                        case "book_completed":
                            bar.finish()
                            try await summarize(book, status: json, with: client)
                            return
                        case "book_deleted":
                            bar.finish()
                            throw LectorClient.Failure(message: "Book \(book) was deleted.")
                        default:
                            break
                        }
                    }
                }
            } catch let failure as LectorClient.Failure {
                throw failure
            } catch {
                // The connection dropped: reconnect and resume after the last event seen.
                try await Task.sleep(for: .seconds(1))
            }
        }
        bar.finish()
        throw LectorClient.Failure(message: "Lost the progress stream of book \(book) too many times.", exitCode: 1)
    }

    func summarize(_ book: Int, status: [String: Any], with client: LectorClient) async throws {
        let pages =
            ((try await client.json("/api/books/\(book)/pages/")) as? [String: Any])?["pages"] as? [[String: Any]] ?? []
        let seconds = pages.compactMap { $0["audio_duration"] as? Int }.reduce(0, +)
        let failed = pages.filter { $0["processing_status"] as? String == "failed" }
        let withAudio = pages.filter { $0["audio_url"] is String }.count
        print(
            "Book \(book): \(status["processing_status"] as? String ?? "?"), \(pages.count - failed.count)/\(pages.count) pages done, \(withAudio) with audio, \(seconds / 60) min \(seconds % 60) s of speech."
        )
        print("Audio: \(options.client.server)/api/books/\(book)/audio/")
        guard failed.isEmpty else {
            for page in failed {
                print("  page \(page["page_number"] as? Int ?? 0) failed: \(page["error"] as? String ?? "")")
            }
            throw LectorClient.Failure(
                message: "\(failed.count) page(s) failed; `POST /api/books/\(book)/retry/` tries them again.",
                exitCode: 3)
        }
    }

    func escape(_ value: String) -> String {
        value.addingPercentEncoding(
            withAllowedCharacters: .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&+=?"))) ?? value
    }
}
