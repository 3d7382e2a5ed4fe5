import ClusterTransport
import Distributed
import Foundation

extension Coordinator {
    /// A job whose audio is read from the worker while it is spoken: the synthesis call and a
    /// reader of the growing MP3 run side by side, the reader writing into the page's temporary
    /// file, which listeners can read at once (`liveAudio`). The file is complete and synced when
    /// this returns; a failed attempt's file is removed.
    func voiceStreaming(
        _ key: PageKey, job: PageJob, from worker: any PageSynthesizing, deadline: ContinuousClock.Instant
    ) async throws -> (PageResult, PendingAudio?) {
        let attempt = job.lease
        let file = try audioStore.beginWrite(book: key.book, page: key.page)
        if let old = live.begin(key, attempt: attempt, file: file) { audioStore.discard(old) }
        do {
            let result = try await withThrowingTaskGroup(of: StreamedJob.self) { group in
                group.addTask { .answered(try await Self.call(until: deadline) { try await worker.synthesize(job) }) }
                group.addTask {
                    do {
                        try await self.readStream(of: key, attempt: attempt, from: worker, deadline: deadline)
                        return .read
                    } catch {
                        return .readFailed(error)
                    }
                }
                var result: PageResult?
                var readFailure: (any Error)?
                do {
                    while let outcome = try await group.next() {
                        switch outcome {
                        case .answered(let answer): result = answer
                        case .read: break
                        case .readFailed(let error):
                            readFailure = error
                            // The worker told the reader its job failed: its own error, on its
                            // way, says why. Anything else (a lost connection) ends the job now.
                            if !(error is PageTransferError) { group.cancelAll() }
                        }
                    }
                } catch {
                    // The synthesis call cancelled because the reader failed ends with a
                    // cancellation; the reader's error is what happened (a lost worker is a
                    // loss, not a failed attempt).
                    if let readFailure, !(readFailure is PageTransferError) { throw readFailure }
                    throw error
                }
                if let readFailure { throw readFailure }
                guard let result else { throw PageTransferError(reason: "the worker gave no answer") }
                return result
            }
            guard result.audioBytes == file.bytes else {
                throw PageTransferError(
                    reason: "the worker reported \(result.audioBytes) bytes of audio and sent \(file.bytes)")
            }
            guard file.bytes > 0 else {
                discardLive(key, attempt: attempt)
                return (result, nil)
            }
            // The final first frame (the tag with the frame count), unless a listener already has
            // the start: bytes once served never change.
            if let head = result.audioHead, head.count <= LiveAudio.startBytes, head.count <= file.bytes,
                live.entry(key, attempt: attempt)?.startServed == false
            {
                try file.overwrite(at: 0, with: head)
            }
            try file.finish()
            live.markComplete(key, attempt: attempt)
            Task { try? await worker.releaseAudio(lease: attempt) }
            return (result, file)
        } catch {
            discardLive(key, attempt: attempt)
            throw error
        }
    }

    /// Reads the worker's MP3 as it grows until the worker says it is whole. Each round trip
    /// either brings bytes or waits on the worker a moment, and the lease's deadline ends it.
    func readStream(
        of key: PageKey, attempt: UUID, from worker: any PageSynthesizing, deadline: ContinuousClock.Instant
    ) async throws {
        var offset = 0
        while true {
            let asked = Self.transferChunk
            let piece = try await Self.call(until: deadline) {
                try await worker.audioPiece(lease: attempt, offset: offset, length: asked)
            }
            guard piece.data.count <= asked else {
                throw PageTransferError(reason: "the worker sent \(piece.data.count) bytes for a piece of \(asked)")
            }
            if !piece.data.isEmpty {
                try appendLive(key, attempt: attempt, piece.data)
                offset += piece.data.count
            }
            if piece.complete { return }
        }
    }

    func appendLive(_ key: PageKey, attempt: UUID, _ data: Data) throws {
        guard let entry = live.entry(key, attempt: attempt) else {
            throw PageTransferError(reason: "the page's attempt is no longer current")
        }
        guard entry.file.bytes + data.count <= settings.maxPageAudioBytes else {
            throw PageTransferError(
                reason: "the worker's MP3 is over the limit of \(settings.maxPageAudioBytes) bytes")
        }
        try entry.file.append(data)
    }

    func discardLive(_ key: PageKey, attempt: UUID) {
        if let file = live.end(key, attempt: attempt, completed: false) { audioStore.discard(file) }
    }

    /// How long a listener's read waits for new audio before answering an empty piece.
    static let listenerWait: Duration = .seconds(5)

    /// A piece of a page's audio for a listener: from the file being written while the page is
    /// `processing`, else from its final file. `attempt` is what the listener's first piece named
    /// (nil on the first read); a listener whose attempt failed gets `audio_restarted`.
    public distributed func liveAudio(book: Int64, page: Int, offset: Int, length: Int, attempt: UUID?)
        async throws -> LiveAudioSlice
    {
        try await answering {
            try await liveAudioSlice(book: book, page: page, offset: offset, length: length, attempt: attempt)
        }
    }

    private func liveAudioSlice(book: Int64, page: Int, offset: Int, length: Int, attempt: UUID?)
        async throws -> LiveAudioSlice
    {
        let key = PageKey(book: book, page: page)
        let length = min(max(length, 0), 4 << 20)
        guard offset >= 0 else { throw LectorError.badRequest("offset must be ≥ 0.") }
        let until = ContinuousClock.now + Self.listenerWait
        while true {
            if let entry = live.entries[key], attempt == nil || attempt == entry.attempt {
                let bytes = entry.file.bytes
                if offset < bytes && length > 0 {
                    let data = try entry.file.read(offset: offset, length: length)
                    live.markServed(key, offset: offset)
                    let end = offset + data.count
                    return LiveAudioSlice(
                        attempt: entry.attempt, offset: offset, data: data, complete: entry.complete && end == bytes,
                        totalBytes: entry.complete ? bytes : nil)
                }
                if entry.complete || length == 0 {
                    return LiveAudioSlice(
                        attempt: entry.attempt, offset: offset, data: Data(), complete: entry.complete,
                        totalBytes: entry.complete ? bytes : nil)
                }
            } else if let path = try await store.audioPath(key),
                attempt == nil || attempt == live.finishedAttempt(key)
            {
                let slice = try await audioStore.slice(path, offset: offset, length: length)
                return LiveAudioSlice(
                    attempt: attempt, offset: slice.offset, data: slice.data,
                    complete: slice.offset + slice.data.count >= slice.totalBytes, totalBytes: slice.totalBytes)
            } else if attempt != nil {
                throw LectorError(
                    status: 409, code: "audio_restarted",
                    message:
                        "The attempt voicing page \(page) of book \(book) failed; its audio was discarded and the page is voiced again."
                )
            } else if try await store.pageStatus(key) != "processing" {
                throw LectorError(
                    status: 404, code: "audio_not_found", message: "Book \(book) has no audio for page \(page) yet.")
            }
            guard ContinuousClock.now < until else {
                return LiveAudioSlice(attempt: attempt, offset: offset, data: Data(), complete: false, totalBytes: nil)
            }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// How each half of a streamed job ended.
enum StreamedJob: Sendable {
    case answered(PageResult)
    case read
    case readFailed(any Error)
}
