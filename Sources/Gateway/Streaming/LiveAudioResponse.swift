import Coordinator
import Foundation
import Hummingbird
import Logging

/// The audio of a page that is still being voiced: sent as it is made (chunked, no length) and
/// ending when the page is done, so a listener can press play on a page that is `processing`.
/// Range requests are answered from the start: the end is not known yet.
struct LiveAudioResponse {
    /// Pieces asked of the coordinator at a time.
    static let sliceSize = 1 << 20
    /// A page's MP3 is bounded by the coordinator; this bounds the loop on our side too.
    static let maxBytes = 256 << 20
    /// Empty answers in a row (each after the coordinator waited ~5 s) before we give up: an hour.
    static let maxIdleReads = 720

    var fetch: @Sendable (_ offset: Int, _ length: Int, _ attempt: UUID?) async throws -> LiveAudioSlice

    /// The first piece decides: nil when the page's audio is a finished file (served with ranges).
    func response(logger: Logger) async throws -> Response? {
        let first = try await fetch(0, Self.sliceSize, nil)
        guard let attempt = first.attempt else { return nil }
        let fetch = self.fetch
        let body = ResponseBody { writer in
            var piece = first
            var offset = 0
            var idle = 0
            while true {
                if !piece.data.isEmpty {
                    try await writer.write(ByteBuffer(bytes: piece.data))
                    offset += piece.data.count
                    idle = 0
                } else {
                    idle += 1
                }
                if piece.complete { break }
                guard offset <= Self.maxBytes, idle <= Self.maxIdleReads else {
                    logger.warning("a live page's audio stopped growing; the listener's stream ends unfinished")
                    throw APIError(.serviceUnavailable, code: "audio_stalled", "The page's audio stopped growing.")
                }
                piece = try await fetch(offset, Self.sliceSize, attempt)
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [.contentType: "audio/mpeg", .cacheControl: "no-store", .acceptRanges: "none"], body: body)
    }
}
