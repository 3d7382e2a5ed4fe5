import Foundation

/// Where the coordinator keeps its state and how patient it is with workers.
public struct CoordinatorSettings: Sendable {
    /// Where books and pages are kept.
    public enum Store: Sendable, Equatable {
        /// The SQLite file at `databasePath`, page audio as files under `audioDirectory`.
        case sqlite
        /// A PostgreSQL database, `postgres://USER@HOST:PORT/DATABASE`, page audio in it too;
        /// `audioDirectory` then only holds this coordinator's temporary and derived files.
        case postgres(url: String)
    }

    public var store: Store = .sqlite
    /// The active-coordinator lease this coordinator was started under (PostgreSQL with
    /// `CoordinatorElection`): every write must still hold it, and every job carries its epoch.
    var lease: LeaseFence?
    public var databasePath: String
    public var audioDirectory: String
    /// Uploads are spooled here until they become a book (or are abandoned).
    public var uploadDirectory: String
    public var maxUploadBytes: Int
    public var maxAttempts: Int
    /// The longest a worker may hold a page job before the attempt counts as failed.
    public var jobLease: Duration
    /// First retry delay; doubles with each attempt.
    public var retryBackoff: Duration = .milliseconds(500)
    /// Times a page may lose its worker (crash, dropped connection, unsendable job) before it
    /// fails: a page that kills workers must not do so forever.
    public var maxLosses = 3
    /// PDFs declaring more pages are refused (422 `too_many_pages`).
    public var maxPages = 5000
    /// A page's text is cut to this many characters (almost three hours of espeak-ng, which reads about 20 a second), with a note.
    public var maxPageCharacters = 200_000
    /// Runs poppler and cairo (reading uploads, rendering pages for OCR) in helper processes, so a
    /// crash costs the upload or the page, not the coordinator; nil works in this process (tests).
    public var nativeHelper: [String]?
    /// The largest MP3 a worker may return for one page (a 4-hour page at 48 kb/s is 86 MB).
    public var maxPageAudioBytes = 128 << 20

    public init(
        databasePath: String, audioDirectory: String, uploadDirectory: String,
        maxUploadBytes: Int = 100 << 20,
        maxAttempts: Int = 3, jobLease: Duration = .seconds(120)
    ) {
        self.databasePath = databasePath
        self.audioDirectory = audioDirectory
        self.uploadDirectory = uploadDirectory
        self.maxUploadBytes = maxUploadBytes
        self.maxAttempts = maxAttempts
        self.jobLease = jobLease
    }
}

extension CoordinatorSettings.Store {
    /// The PostgreSQL store, its URL checked now (a mistake is a configuration error, not a
    /// coordinator that cannot start).
    public static func postgres(checking url: String) throws -> Self {
        _ = try PostgresURL.configuration(url)
        return .postgres(url: url)
    }
}
