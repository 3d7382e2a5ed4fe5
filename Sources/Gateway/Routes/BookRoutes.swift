import ClusterTransport
import Coordinator
import Foundation
import Hummingbird

/// The book resources: list, status, pages, one page, whole-book audio, retry, delete.
struct BookRoutes {
    let client: CoordinatorClient

    func add(to router: some RouterMethods<BasicRequestContext>) {
        let client = self.client
        router.get("books") { _, _ -> Response in
            let books = try await client.call { try await $0.listBooks() }
            return APIResponse.ok(books, message: "Books retrieved successfully")
        }
        router.get("books/:id") { _, context -> Response in
            let id = try Self.bookID(context)
            let detail = try await client.call { try await $0.detail(book: id) }
            return APIResponse.ok(detail, message: "Book retrieved successfully")
        }
        router.get("books/:id/status") { _, context -> Response in
            let id = try Self.bookID(context)
            let status = try await client.call { try await $0.status(book: id) }
            return APIResponse.ok(status, message: "Book processing status retrieved successfully")
        }
        router.get("books/:id/pages") { request, context -> Response in
            let id = try Self.bookID(context)
            let query = request.uri.queryParameters
            let offset = try Self.integer(query.get("offset"), name: "offset", range: 0...Int(Int32.max)) ?? 0
            // Larger limits are clamped to the coordinator's maximum (200); `next_offset` says where to go on.
            let limit = try Self.integer(query.get("limit"), name: "limit", range: 1...Int(Int32.max))
            let pages = try await client.call { try await $0.pages(book: id, offset: offset, limit: limit) }
            return APIResponse.ok(pages, message: "Book pages retrieved successfully")
        }
        router.get("books/:id/pages/:number") { _, context -> Response in
            let id = try Self.bookID(context)
            guard let number = context.parameters.get("number").flatMap(Int.init), number > 0 else {
                throw APIError(.notFound, code: "page_not_found", "Page numbers start at 1.")
            }
            let pages = try await client.call { try await $0.pages(book: id, offset: number - 1, limit: 1) }
            guard let page = pages.pages.first else {
                throw APIError(
                    .notFound, code: "page_not_found",
                    "Book \(id) has \(pages.book.totalPages) pages; there is no page \(number).")
            }
            return APIResponse.ok(page, message: "Page retrieved successfully")
        }
        router.get("books/:id/audio") { request, context -> Response in
            let id = try Self.bookID(context)
            let format = request.uri.queryParameters.get("format") ?? "mp3"
            guard format == "mp3" || format == "m4b" else {
                throw APIError(.badRequest, code: "invalid_format", "format must be mp3 or m4b.")
            }
            var audio = RangedAudio { offset, length in
                // The first request joins the pages (and for M4B encodes them), which takes a while
                // for a long book.
                try await ClusterSystem.$callTimeout.withValue(.seconds(600)) {
                    try await client.call {
                        format == "m4b"
                            ? try await $0.bookAudioM4B(book: id, offset: offset, length: length)
                            : try await $0.bookAudio(book: id, offset: offset, length: length)
                    }
                }
            }
            if format == "m4b" { audio.headers[.contentType] = "audio/mp4" }
            audio.headers[.contentDisposition] = "inline; filename=\"book-\(id).\(format)\""
            return try await audio.response(to: request)
        }
        router.get("books/:id/position") { _, context -> Response in
            let id = try Self.bookID(context)
            let position = try await client.call { try await $0.position(book: id) }
            return APIResponse.ok(position, message: "Listening position retrieved successfully")
        }
        router.put("books/:id/position") { request, context -> Response in
            let id = try Self.bookID(context)
            let asked = try await Self.position(from: request)
            let position = try await client.call {
                try await $0.savePosition(book: id, page: asked.page, seconds: asked.seconds)
            }
            return APIResponse.ok(position, message: "Listening position saved")
        }
        router.post("books/:id/retry") { _, context -> Response in
            let id = try Self.bookID(context)
            let outcome = try await client.call { try await $0.retry(book: id) }
            return APIResponse.ok(outcome, message: "\(outcome.requeuedPages) failed pages queued again")
        }
        router.delete("books/:id") { _, context -> Response in
            let id = try Self.bookID(context)
            try await client.call { try await $0.delete(book: id) }
            return APIResponse.ok(["book_id": id], message: "Book deleted with its pages and audio")
        }
    }

    /// `{"page": 3, "seconds": 12.5}`, at most a kilobyte.
    static func position(from request: Request) async throws -> (page: Int, seconds: Double) {
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: 1024)
        } catch {
            throw APIError(
                .contentTooLarge, code: "body_too_large", "A position is a small JSON object (1 KB at most).")
        }
        struct Asked: Decodable {
            var page: Double
            var seconds: Double
        }
        do {
            let asked = try JSONDecoder().decode(Asked.self, from: Data(buffer: body))
            // Any JSON number decodes as a Double; only whole ones are pages.
            guard let page = Int(exactly: asked.page) else {
                throw APIError(.badRequest, code: "invalid_position", "page must be a whole number.")
            }
            return (page, asked.seconds)
        } catch let error as APIError {
            throw error
        } catch DecodingError.keyNotFound(let key, _) {
            throw APIError(.badRequest, code: "invalid_position", "\(key.stringValue) is missing.")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            let name = context.codingPath.first?.stringValue ?? "the body"
            throw APIError(
                .badRequest, code: "invalid_position",
                name == "page" ? "page must be a whole number." : "\(name) must be a number.")
        } catch {
            throw APIError(.badRequest, code: "invalid_json", "Send a JSON object: {\"page\": 1, \"seconds\": 0}.")
        }
    }

    static func bookID(_ context: BasicRequestContext) throws -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
            throw APIError(.notFound, code: "book_not_found", "No book with id \(context.parameters.get("id") ?? "").")
        }
        return id
    }

    static func integer(_ text: String?, name: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw APIError.badRequest("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound).")
        }
        return value
    }
}
