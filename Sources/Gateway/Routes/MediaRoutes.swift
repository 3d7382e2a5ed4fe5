import Coordinator
import Foundation
import Hummingbird

/// `GET /media/books/{id}/page_0001.mp3`: a page's audio, with HTTP ranges so players can seek;
/// while the page is being voiced, what exists so far and then the rest as it comes.
///
/// Only names of exactly that shape are served, built back from integers: no path from the request
/// ever reaches the file system.
struct MediaRoutes {
    let client: CoordinatorClient

    func add(to router: some RouterMethods<BasicRequestContext>) {
        let client = self.client
        router.get("books/:id/:file") { request, context -> Response in
            guard let book = context.parameters.get("id").flatMap(Int64.init), book > 0,
                let file = context.parameters.get("file"), let page = Self.page(from: file)
            else {
                throw APIError(.notFound, code: "not_found", "No such audio file.")
            }
            // A page still being voiced streams as it is made; a finished one is a file with ranges.
            let live = LiveAudioResponse { offset, length, attempt in
                try await client.call {
                    try await $0.liveAudio(book: book, page: page, offset: offset, length: length, attempt: attempt)
                }
            }
            if let streaming = try await live.response(logger: context.logger) { return streaming }
            var audio = RangedAudio { offset, length in
                try await client.call { try await $0.audio(book: book, page: page, offset: offset, length: length) }
            }
            audio.headers[.cacheControl] = "public, max-age=3600"
            return try await audio.response(to: request)
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
}
