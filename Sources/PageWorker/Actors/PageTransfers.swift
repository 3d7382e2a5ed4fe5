import Coordinator
import Foundation

/// The bytes a worker holds for jobs between calls: page images arriving in pieces before their
/// job, and finished MP3s until the coordinator has read them. Everything here came from or goes to
/// another node, so every offset is checked and every byte is bounded in size and in time.
struct PageTransfers {
    /// A page image larger than this is refused (a 300 dpi A3 grey PNG is a few MB).
    static let maxImageBytes = 64 << 20
    /// All staged images and held MP3s together.
    static let maxHeldBytes = 512 << 20
    /// A staged image whose job never comes is dropped after this long.
    static let stagingTimeout: Duration = .seconds(600)

    private struct Held {
        var data: Data
        var expires: ContinuousClock.Instant
        var complete = false
        var failure: String?
    }

    private var images: [UUID: Held] = [:]
    private var audio: [UUID: Held] = [:]
    private var heldBytes: Int {
        images.values.reduce(0) { $0 + $1.data.count } + audio.values.reduce(0) { $0 + $1.data.count }
    }

    mutating func stage(lease: UUID, offset: Int, chunk: Data, now: ContinuousClock.Instant) throws {
        expire(now: now)
        let current = images[lease]?.data.count ?? 0
        guard offset == current else {
            throw PageTransferError(reason: "image piece at \(offset), expected \(current)")
        }
        let (total, overflow) = current.addingReportingOverflow(chunk.count)
        guard !overflow, total <= Self.maxImageBytes else {
            images[lease] = nil
            throw PageTransferError(reason: "the page image is larger than \(Self.maxImageBytes) bytes")
        }
        guard heldBytes + chunk.count <= Self.maxHeldBytes else {
            throw PageTransferError(reason: "the worker holds too many bytes for other jobs")
        }
        images[lease, default: Held(data: Data(), expires: now + Self.stagingTimeout)].data.append(chunk)
    }

    /// The whole staged image of a job, which must be exactly `expecting` bytes.
    mutating func takeImage(lease: UUID, expecting: Int) throws -> Data {
        guard let held = images.removeValue(forKey: lease), held.data.count == expecting, expecting > 0 else {
            throw PageTransferError(reason: "the page image did not arrive whole")
        }
        return held.data
    }

    /// A job's MP3 starts empty and grows as its sentences are encoded; the coordinator reads it
    /// as it grows.
    mutating func openAudio(lease: UUID, until expires: ContinuousClock.Instant) {
        audio[lease] = Held(data: Data(), expires: expires)
    }

    mutating func appendAudio(_ mp3: Data, lease: UUID) throws {
        guard audio[lease] != nil else { throw PageTransferError(reason: "the job's audio is gone") }
        guard heldBytes + mp3.count <= Self.maxHeldBytes else {
            throw PageTransferError(reason: "the worker holds too many bytes for other jobs")
        }
        audio[lease]!.data.append(mp3)
    }

    /// The job is done: its first frame is replaced by the final one (`MP3Stream.head`), and
    /// readers are told there is no more.
    mutating func completeAudio(lease: UUID, head: Data?) {
        guard var held = audio[lease] else { return }
        if let head, !head.isEmpty, head.count <= held.data.count {
            held.data.replaceSubrange(held.data.startIndex..<(held.data.startIndex + head.count), with: head)
        }
        held.complete = true
        audio[lease] = held
    }

    /// The job failed: its bytes go, and a reader learns why.
    mutating func failAudio(lease: UUID, reason: String) {
        guard var held = audio[lease] else { return }
        held.data = Data()
        held.failure = reason
        audio[lease] = held
    }

    func audioBytes(lease: UUID) -> Int { audio[lease]?.data.count ?? 0 }

    /// Everything of a job's MP3 so far.
    func audio(lease: UUID) -> Data { audio[lease]?.data ?? Data() }

    /// Bytes from `offset` on, or nil when there are none yet (the job is still speaking, or has
    /// not started here yet).
    func audioPiece(lease: UUID, offset: Int, length: Int, now: ContinuousClock.Instant) throws -> AudioPiece? {
        guard let held = audio[lease] else { return nil }
        guard held.expires > now else {
            throw PageTransferError(reason: "the audio of this job is no longer on the worker")
        }
        if let failure = held.failure { throw PageTransferError(reason: "the job failed: \(failure)") }
        guard offset >= 0, offset <= held.data.count, length > 0 else {
            throw PageTransferError(reason: "bad audio piece \(offset)+\(length)")
        }
        let end = offset + min(length, held.data.count - offset)
        guard end > offset || held.complete else { return nil }
        let start = held.data.startIndex
        return AudioPiece(
            data: Data(held.data[(start + offset)..<(start + end)]), complete: held.complete && end == held.data.count)
    }

    mutating func release(lease: UUID) {
        audio[lease] = nil
        images[lease] = nil
    }

    mutating func expire(now: ContinuousClock.Instant) {
        images = images.filter { $0.value.expires > now }
        audio = audio.filter { $0.value.expires > now }
    }
}
