import ClusterTransport
import Distributed
import Foundation

extension Coordinator {
    /// A piece of the whole book's MP3 (`length` 0 asks only its size). Built on first request
    /// once every page is ready, then served from this coordinator's disk (any coordinator can
    /// build it again from the stored pages).
    public distributed func bookAudio(book: Int64, offset: Int, length: Int) async throws -> AudioSlice {
        let path = try await answering { try await bookAudioFile(book: book) }
        return try AudioFiles.sliceFile(audioStore.localURL(path), offset: offset, length: min(max(length, 0), 4 << 20))
    }

    /// How long a request waits for the M4B to be made before it is told to come back.
    static let m4bWait: Duration = .seconds(8)

    /// The same as M4B (AAC), made from the MP3 on first request and kept beside it. Encoding
    /// takes about a second per ten minutes of speech, so a request waits a few seconds for it
    /// and is then answered 409 `audio_not_ready` (try again) while it goes on.
    public distributed func bookAudioM4B(book: Int64, offset: Int, length: Int) async throws -> AudioSlice {
        let source = audioStore.localURL(try await answering { try await bookAudioFile(book: book) })
        let relative = "books/\(book)/book.m4b"
        let output = audioStore.localURL(relative)
        if !FileManager.default.fileExists(atPath: output.path) {
            // Negative keys: the M4B builds, beside the MP3 ones.
            let build = Task {
                try await self.buildOnce(key: -book, what: "M4B of book \(book)") {
                    try BookAudioBuilder.m4b(from: source, to: output)
                }
            }
            let deadline = ContinuousClock.now + Self.m4bWait
            while !FileManager.default.fileExists(atPath: output.path), ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(100))
            }
            if !FileManager.default.fileExists(atPath: output.path) {
                // No build left running and no file: it failed, and its error says so.
                if library.bookAudioBuilds[-book] == nil { try await build.value }
                throw LectorError(
                    status: 409, code: "audio_not_ready",
                    message: "The M4B of book \(book) is being made; try again in a few seconds.")
            }
        }
        return try AudioFiles.sliceFile(
            audioStore.localURL(relative), offset: offset, length: min(max(length, 0), 4 << 20))
    }

    static func bookAudioPath(book: Int64) -> String { "books/\(book)/book.mp3" }

    func bookAudioFile(book: Int64) async throws -> String {
        let relative = Self.bookAudioPath(book: book)
        guard let pages = try await store.audioPaths(book: book) else {
            throw LectorError(
                status: 409, code: "audio_not_ready",
                message: "Book \(book) is not ready yet: the whole-book audio exists once every page is completed.")
        }
        if FileManager.default.fileExists(atPath: audioStore.localURL(relative).path) { return relative }
        guard !pages.isEmpty else {
            throw LectorError(status: 404, code: "audio_not_found", message: "Book \(book) has no page with speech.")
        }
        let title = try await store.status(book: book).title
        var files: [(page: Int, file: URL)] = []
        for page in pages { files.append((page.page, try await audioStore.localFile(page.path))) }
        let builder = BookAudioBuilder(
            title: title,
            chapters: BookAudioBuilder.chapters(
                outline: try await store.chapters(book: book), pages: files, bookTitle: title))
        let output = audioStore.localURL(relative)
        try await buildOnce(key: book, what: "MP3 of book \(book) (\(pages.count) pages)") {
            try builder.build(to: output)
        }
        return relative
    }

    /// Runs a whole-book build off the actor, once: a request arriving while it runs waits for
    /// the same build.
    private func buildOnce(key: Int64, what: String, _ work: @escaping @Sendable () throws -> Void) async throws {
        if let building = library.bookAudioBuilds[key] {
            try await building.value
            return
        }
        let logger = self.logger
        let build = Task<Void, any Error> {
            let started = ContinuousClock.now
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
            }
            logger.info("[BOOK AUDIO] the \(what) made in \(ContinuousClock.now - started)")
        }
        library.bookAudioBuilds[key] = build
        defer { library.bookAudioBuilds[key] = nil }
        do {
            try await build.value
        } catch {
            logger.error("[BOOK AUDIO] the \(what): \(error)")
            throw LectorError(
                status: 500, code: "book_audio_failed",
                message: "The whole-book audio could not be made; the error was logged.")
        }
    }
}
