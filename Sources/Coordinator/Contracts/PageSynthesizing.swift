import ClusterTransport
import Distributed
import Foundation

/// One page to voice. `attempt` and `lease` fence the answer: the coordinator accepts a result only
/// for the current attempt of a page still in `processing`.
public struct PageJob: Codable, Sendable, Equatable {
    public var bookId: Int64
    public var pageNumber: Int
    public var totalPages: Int
    public var attempt: Int
    public var lease: UUID
    public var text: String
    public var voice: String?
    public var language: String?
    /// `pdf` when `text` is the page's text layer; `ocr` when the worker reads the page from the
    /// image staged before the job (`stageImage`).
    public var textSource: String
    /// How long the coordinator waits for this attempt. The worker abandons the job when it runs
    /// out, so an expired job does not hold a slot that later jobs queue behind. Relative, because
    /// the two machines' clocks need not agree.
    public var leaseSeconds: Double = 120
    /// The size of the staged page image (OCR jobs only).
    public var imageBytes: Int = 0
    /// The text layer is doubtful: the worker also reads the staged image and voices whichever
    /// scores better (`TextLayerCheck.prefersOCR`).
    public var checkWithOCR = false
    /// The book's `quality`: `natural` (a neural voice where the worker has one for the page's
    /// language), `fast` (espeak-ng), or nil: natural where there is one.
    public var quality: String? = nil
    /// The lease epoch of the coordinator that sent the job (0: no lease). A worker refuses a job
    /// older than the newest epoch it has seen: it comes from a coordinator that was deposed.
    public var coordinatorEpoch: Int64 = 0

    public init(
        bookId: Int64, pageNumber: Int, totalPages: Int, attempt: Int, lease: UUID, text: String,
        voice: String?, language: String?, textSource: String = "pdf"
    ) {
        self.bookId = bookId
        self.pageNumber = pageNumber
        self.totalPages = totalPages
        self.attempt = attempt
        self.lease = lease
        self.text = text
        self.voice = voice
        self.language = language
        self.textSource = textSource
    }
}

/// What a worker answers for a job. The MP3 itself is read in pieces while it is made
/// (`audioPiece`), so no single message grows with the page's length.
public struct PageResult: Codable, Sendable, Equatable {
    /// 0 when the page has nothing to say.
    public var audioBytes: Int
    public var durationSeconds: Double
    public var voice: String?
    public var textSource: String
    /// The text the worker read from the page image (OCR), to be stored as the page's text.
    public var text: String?
    /// The language the page was voiced in, a code (`fr`).
    public var language: String?
    /// Tesseract's mean word confidence (0–100) for a page read with OCR.
    public var ocrConfidence: Double?
    /// `good`, or `unreadable`: a scan read too unreliably to voice (no audio).
    public var textQuality: String?
    /// The sentences of the audio, in order (see `AudioSegment`).
    public var segments: [AudioSegment]? = nil
    /// `espeak-ng` or `piper`.
    public var engine: String? = nil
    /// The final first frame of the MP3 (its tag with the frame count), which replaces the
    /// placeholder the stream started with.
    public var audioHead: Data? = nil

    public init(
        audioBytes: Int, durationSeconds: Double, voice: String?, textSource: String = "pdf", text: String? = nil,
        language: String? = nil, ocrConfidence: Double? = nil, textQuality: String? = nil
    ) {
        self.audioBytes = audioBytes
        self.durationSeconds = durationSeconds
        self.voice = voice
        self.textSource = textSource
        self.text = text
        self.language = language
        self.ocrConfidence = ocrConfidence
        self.textQuality = textQuality
    }
}

/// A piece of a job's MP3 as it is being made.
public struct AudioPiece: Codable, Sendable, Equatable {
    public var data: Data
    /// The job is done and this piece ends its audio.
    public var complete: Bool

    public init(data: Data, complete: Bool) {
        self.data = data
        self.complete = complete
    }
}

/// Implemented by PageWorkers; the coordinator finds them under `pageWorkerKey`.
@Resolvable
public protocol PageSynthesizing: DistributedActor where ActorSystem == ClusterSystem {
    /// How many pages it takes at once.
    distributed func capacity() async throws -> Int
    /// The Tesseract language packs it has (`eng`, `fra`, `hin`, …), shown in `/api/cluster/`.
    distributed func ocrLanguages() async throws -> [String]
    /// The voices it speaks with (`VoiceInfo`), natural ones first.
    distributed func voices() async throws -> [VoiceInfo]
    /// One piece of a scanned page's image (a grey PNG), sent in order before `synthesize`; raw
    /// bytes, each well under the frame limit however large the image.
    distributed func stageImage(lease: UUID, offset: Int, chunk: Data) async throws
    /// Voices the job's text, or for `textSource == "ocr"` first reads the staged image.
    distributed func synthesize(_ job: PageJob) async throws -> PageResult
    /// A piece of a job's MP3 from `offset` on, read while the job runs (it waits a moment for
    /// new bytes, and answers an empty, incomplete piece when none come). The worker keeps the
    /// audio until `releaseAudio` or a while after the job's lease.
    distributed func audioPiece(lease: UUID, offset: Int, length: Int) async throws -> AudioPiece
    distributed func releaseAudio(lease: UUID) async throws
}

/// A job's audio or staged image is no longer on the worker (released, expired or never there).
public struct PageTransferError: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// The receptionist key page workers register under.
public let pageWorkerKey = "page-worker"

/// A worker that is shutting down turns new jobs away with this; the coordinator gives the job to
/// another worker without counting an attempt.
public struct PageJobRefused: Error, Codable, Sendable, Equatable, CustomStringConvertible {
    public var worker: String
    public var reason: String

    public init(worker: String, reason: String) {
        self.worker = worker
        self.reason = reason
    }

    public var description: String { "worker \(worker) refused the job: \(reason)" }
}
