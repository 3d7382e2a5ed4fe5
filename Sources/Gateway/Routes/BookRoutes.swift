import Coordinator
import Foundation
import Hummingbird

/// The book resources: list, status, pages, retry, delete.
struct BookRoutes {
    let client: CoordinatorClient

    func add(to router: Router<BasicRequestContext>) {
        let client = self.client
        router.get("/api/books") { _, _ -> Response in
            let books = try await client.call { try await $0.listBooks() }
            return APIResponse.ok(books, message: "Books retrieved successfully")
        }
        router.get("/api/books/:id/status") { _, context -> Response in
            let id = try Self.bookID(context)
            let status = try await client.call { try await $0.status(book: id) }
            return APIResponse.ok(status, message: "Book processing status retrieved successfully")
        }
        router.get("/api/books/:id/pages") { request, context -> Response in
            let id = try Self.bookID(context)
            let query = request.uri.queryParameters
            let offset = try Self.integer(query.get("offset"), name: "offset", range: 0...Int(Int32.max)) ?? 0
            let limit = try Self.integer(query.get("limit"), name: "limit", range: 1...1000)
            let pages = try await client.call { try await $0.pages(book: id, offset: offset, limit: limit) }
            return APIResponse.ok(pages, message: "Book pages retrieved successfully")
        }
        router.post("/api/books/:id/retry") { _, context -> Response in
            let id = try Self.bookID(context)
            let outcome = try await client.call { try await $0.retry(book: id) }
            return APIResponse.ok(outcome, message: "\(outcome.requeuedPages) failed pages queued again")
        }
        router.delete("/api/books/:id") { _, context -> Response in
            let id = try Self.bookID(context)
            try await client.call { try await $0.delete(book: id) }
            return APIResponse.ok(["book_id": id], message: "Book deleted with its pages and audio")
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
