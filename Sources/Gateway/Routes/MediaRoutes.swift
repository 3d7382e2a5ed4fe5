import Coordinator
import Foundation
import Hummingbird

/// `GET /media/books/{id}/page_0001.mp3`: a page's audio, with HTTP ranges so players can seek.
///
/// Only names of exactly that shape are served, built back from integers: no path from the request
/// ever reaches the file system.
struct MediaRoutes {
    static let sliceSize = 1 << 20

    let client: CoordinatorClient

    func add(to router: Router<BasicRequestContext>) {
        let client = self.client
        router.get("/media/books/:id/:file") { request, context -> Response in
            guard let book = context.parameters.get("id").flatMap(Int64.init), book > 0,
                let file = context.parameters.get("file"), let page = Self.page(from: file)
            else {
                throw APIError(.notFound, code: "not_found", "No such audio file.")
            }
            let total = try await client.call { try await $0.audio(book: book, page: page, offset: 0, length: 0) }
                .totalBytes
            var headers: HTTPFields = [
                .contentType: "audio/mpeg", .acceptRanges: "bytes", .cacheControl: "public, max-age=3600",
            ]
            var range = 0..<total
            var status = HTTPResponse.Status.ok
            if let header = request.headers[.range] {
                guard let asked = Self.byteRange(header, total: total) else {
                    headers[.contentRange] = "bytes */\(total)"
                    return APIResponse.failure(
                        .rangeNotSatisfiable, code: "range_not_satisfiable",
                        message: "The range \(header) is outside the \(total)-byte file."
                    )
                    .withHeaders(headers)
                }
                range = asked
                status = .partialContent
                headers[.contentRange] = "bytes \(asked.lowerBound)-\(asked.upperBound - 1)/\(total)"
            }
            let bytes = range
            let body = ResponseBody(contentLength: bytes.count) { writer in
                var offset = bytes.lowerBound
                while offset < bytes.upperBound {
                    let length = min(Self.sliceSize, bytes.upperBound - offset)
                    let start = offset
                    let slice = try await client.call {
                        try await $0.audio(book: book, page: page, offset: start, length: length)
                    }
                    guard !slice.data.isEmpty else { break }
                    try await writer.write(ByteBuffer(bytes: slice.data))
                    offset += slice.data.count
                }
                try await writer.finish(nil)
            }
            return Response(status: status, headers: headers, body: body)
        }
    }

    /// `page_0001.mp3` → 1.
    static func page(from file: String) -> Int? {
        guard file.hasPrefix("page_"), file.hasSuffix(".mp3") else { return nil }
        let digits = file.dropFirst(5).dropLast(4)
        guard digits.count >= 4, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber), let page = Int(digits),
            page > 0
        else { return nil }
        return page
    }

    /// One range of `bytes=a-b`, `bytes=a-` or `bytes=-n`, clipped to the file; nil if unsatisfiable.
    static func byteRange(_ header: String, total: Int) -> Range<Int>? {
        let value = header.trimmingCharacters(in: .whitespaces)
        guard value.lowercased().hasPrefix("bytes="), total > 0 else { return nil }
        let spec =
            value.dropFirst(6).split(separator: ",").first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
        let parts = spec.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return nil }
        if parts[0].isEmpty {
            guard let suffix = Int(parts[1]), suffix > 0 else { return nil }
            return max(0, total - suffix)..<total
        }
        guard let start = Int(parts[0]), start >= 0, start < total else { return nil }
        if parts[1].isEmpty { return start..<total }
        guard let end = Int(parts[1]), end >= start else { return nil }
        return start..<min(end + 1, total)
    }
}

extension Response {
    func withHeaders(_ fields: HTTPFields) -> Response {
        var response = self
        for field in fields where field.name != .contentType { response.headers[field.name] = field.value }
        return response
    }
}
