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

    mutating func hold(_ mp3: Data, lease: UUID, until expires: ContinuousClock.Instant) throws {
        guard heldBytes + mp3.count <= Self.maxHeldBytes else {
            throw PageTransferError(reason: "the worker holds too many bytes for other jobs")
        }
        audio[lease] = Held(data: mp3, expires: expires)
    }

    func audio(lease: UUID, offset: Int, length: Int, now: ContinuousClock.Instant) throws -> Data {
        guard let held = audio[lease], held.expires > now else {
            throw PageTransferError(reason: "the audio of this job is no longer on the worker")
        }
        guard offset >= 0, offset <= held.data.count, length > 0 else {
            throw PageTransferError(reason: "bad audio piece \(offset)+\(length)")
        }
        let end = offset + min(length, held.data.count - offset)
        let start = held.data.startIndex
        return Data(held.data[(start + offset)..<(start + end)])
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
