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
    /// image sent along with the job.
    public var textSource: String

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

/// A voiced page: the MP3 (nil when the page has nothing to say), its length and the voice used.
public struct PageAudio: Codable, Sendable, Equatable {
    public var mp3: Data?
    public var durationSeconds: Double
    public var voice: String?
    public var textSource: String
    /// The text the worker read from the page image (OCR), to be stored as the page's text.
    public var text: String?

    public init(
        mp3: Data?, durationSeconds: Double, voice: String?, textSource: String = "pdf", text: String? = nil
    ) {
        self.mp3 = mp3
        self.durationSeconds = durationSeconds
        self.voice = voice
        self.textSource = textSource
        self.text = text
    }
}

/// Implemented by PageWorkers; the coordinator finds them under `pageWorkerKey`.
@Resolvable
public protocol PageSynthesizing: DistributedActor where ActorSystem == ClusterSystem {
    /// How many pages it takes at once.
    distributed func capacity() async throws -> Int
    distributed func synthesize(_ job: PageJob) async throws -> PageAudio
    /// A page without a usable text layer: the worker reads `image` (a grey PNG) with OCR first.
    /// The image is its own argument so it crosses the wire as raw bytes.
    distributed func synthesizeScanned(_ job: PageJob, image: Data) async throws -> PageAudio
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
