import Foundation

/// An upload in progress: bytes spooled to a file on the coordinator's disk, so a 100 MB book never
/// sits in memory, and the validated document once inspected.
final class UploadSpool {
    let id: String
    let url: URL
    private let handle: FileHandle
    private(set) var bytes = 0
    var reader: UploadReader?
    var lastActivity = ContinuousClock.now

    init(directory: URL) throws {
        id = UUID().uuidString
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        url = directory.appendingPathComponent("\(id).pdf")
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw LectorError(status: 500, code: "spool_failed", message: "The upload cannot be stored on the server.")
        }
        handle = try FileHandle(forWritingTo: url)
    }

    func append(_ chunk: Data) throws {
        try handle.write(contentsOf: chunk)
        bytes += chunk.count
        lastActivity = .now
    }

    func closeForReading() {
        try? handle.synchronize()
        try? handle.close()
    }

    /// Deletes the spooled file; safe to call twice.
    func discard() {
        try? handle.close()
        try? FileManager.default.removeItem(at: url)
    }
}
