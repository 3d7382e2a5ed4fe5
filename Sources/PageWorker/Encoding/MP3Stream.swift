import CLame
import Foundation
import Synchronization

/// A page's MP3 made piece by piece as its sentences are spoken, so a listener can start before
/// the page is done.
///
/// The first frame is a tag whose contents are known only at the end (the frame count): it goes
/// out first as a placeholder of the same size, and `finish` returns the frame that replaces it.
/// Calls come one at a time from the page's job; the lock only makes that safe to share.
final class MP3Stream: Sendable {
    private struct Handle: @unchecked Sendable {  // used only inside `state`'s lock
        let pointer: OpaquePointer
    }
    private struct State {
        var lame: Handle?
        var started = false
        /// LAME writes its own tag (it reserved the first frame); otherwise ours goes in front.
        var lameTag: Bool
    }
    private let state: Mutex<State>
    let sampleRate: Int

    init(sampleRate: Int, settings: MP3Settings = .speech) throws(SpeechError) {
        let lame = try MP3Encoder.makeLAME(sampleRate: sampleRate, settings: settings)
        self.sampleRate = sampleRate
        state = Mutex(State(lame: Handle(pointer: lame), lameTag: lame_get_lametag_frame(lame, nil, 0) > 0))
    }

    deinit {
        state.withLock { state in
            if let lame = state.lame { lame_close(lame.pointer) }
        }
    }

    /// The MP3 bytes for these samples (possibly none yet: LAME holds back part of a frame).
    func encode(_ samples: [Int16], deadline: ContinuousClock.Instant?) async throws -> Data {
        try await run(deadline: deadline) { lame, state in
            var mp3 = Data()
            var scratch = [UInt8](
                repeating: 0, count: MP3Encoder.chunkSamples + MP3Encoder.chunkSamples / 4 + 7200)
            try samples.withUnsafeBufferPointer { pcm throws(SpeechError) in
                try scratch.withUnsafeMutableBufferPointer { out throws(SpeechError) in
                    var start = 0
                    while start < pcm.count {
                        if let deadline, ContinuousClock.now >= deadline { throw .abandoned }
                        let count = min(MP3Encoder.chunkSamples, pcm.count - start)
                        let written = lame_encode_buffer(
                            lame, pcm.baseAddress! + start, nil, Int32(count), out.baseAddress, Int32(out.count))
                        guard written >= 0 else { throw .encodingFailed("lame_encode_buffer returned \(written)") }
                        mp3.append(out.baseAddress!, count: Int(written))
                        start += count
                    }
                }
            }
            return Self.withPlaceholder(mp3, state: &state)
        }
    }

    /// The last bytes, and the frame that replaces the stream's first once `whole` (every byte
    /// sent, these included) is known.
    func finish(deadline: ContinuousClock.Instant?) async throws -> Data {
        try await run(deadline: deadline) { lame, state in
            var out = [UInt8](repeating: 0, count: 7200)
            let flushed = lame_encode_flush(lame, &out, Int32(out.count))
            guard flushed >= 0 else { throw SpeechError.encodingFailed("lame_encode_flush returned \(flushed)") }
            return Self.withPlaceholder(Data(out.prefix(Int(flushed))), state: &state)
        }
    }

    /// The final first frame of the stream whose bytes are `whole`: LAME's tag, or our Info header
    /// with the counts.
    func head(of whole: Data) -> Data? {
        state.withLock { state in
            guard let lame = state.lame?.pointer else { return nil }
            if state.lameTag {
                let size = lame_get_lametag_frame(lame, nil, 0)
                guard size > 0, size <= whole.count else { return nil }
                var tag = [UInt8](repeating: 0, count: size)
                guard lame_get_lametag_frame(lame, &tag, size) == size else { return nil }
                return Data(tag)
            }
            guard let placeholder = MP3Encoder.frameSize(whole, at: 0), placeholder < whole.count else { return nil }
            let audio = whole.dropFirst(placeholder)
            return MP3Encoder.infoFrame(
                like: audio, counts: (MP3Encoder.frames(in: whole, from: placeholder), whole.count))
        }
    }

    /// Before the first audio goes out, the placeholder for our Info frame goes in front of it.
    private static func withPlaceholder(_ mp3: Data, state: inout State) -> Data {
        guard !state.started, !mp3.isEmpty else { return mp3 }
        state.started = true
        guard !state.lameTag, let placeholder = MP3Encoder.infoFrame(like: mp3, counts: nil) else { return mp3 }
        return placeholder + mp3
    }

    /// LAME's work off the cooperative pool, like `MP3Encoder`'s.
    private func run<T: Sendable>(
        deadline: ContinuousClock.Instant?, _ body: @escaping @Sendable (OpaquePointer, inout State) throws -> T
    ) async throws -> T {
        if let deadline, ContinuousClock.now >= deadline { throw SpeechError.abandoned }
        return try await withCheckedThrowingContinuation { continuation in
            MP3Encoder.queue.async {
                continuation.resume(
                    with: Result {
                        try self.state.withLock { state in
                            guard let lame = state.lame?.pointer else {
                                throw SpeechError.encodingFailed("the stream is closed")
                            }
                            return try body(lame, &state)
                        }
                    })
            }
        }
    }
}
