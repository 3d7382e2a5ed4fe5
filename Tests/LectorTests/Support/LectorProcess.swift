import Foundation
import Synchronization

/// The built `lector` binary, run as a real child process with its output kept in a log file.
final class LectorProcess: Sendable {
    let name: String
    let logURL: URL
    private let process: Process

    static var binary: URL {
        if let path = ProcessInfo.processInfo.environment["LECTOR_BIN"] {
            return URL(fileURLWithPath: path)
        }
        // The test bundle sits next to the products of the same build.
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var folder = exe.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("lector").path),
            folder.path != "/"
        {
            folder = folder.deletingLastPathComponent()
        }
        return folder.appendingPathComponent("lector")
    }

    init(_ name: String, arguments: [String], logDirectory: URL, environment: [String: String] = [:])
        throws
    {
        self.name = name
        self.logURL = logDirectory.appendingPathComponent("\(name).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.standardOutput = log
        process.standardError = log
        var env = ProcessInfo.processInfo.environment
        env["LECTOR_SUPERVISOR_PID"] = String(getpid())
        // The natural voice costs ~35 s of CPU a page: only the tests about it turn it on.
        env["LECTOR_VOICES"] = "none"
        for (key, value) in environment { env[key] = value }
        process.environment = env
        try process.run()
        self.process = process
    }

    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }
    var output: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }

    /// SIGTERM, then waits for the exit; returns the exit status.
    @discardableResult
    func terminate(timeout: Duration = .seconds(15)) async -> Int32 {
        if process.isRunning { process.terminate() }
        return await waitForExit(timeout: timeout)
    }

    func kill9() async {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        _ = await waitForExit(timeout: .seconds(5))
    }

    func waitForExit(timeout: Duration) async -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    /// Runs `lector` to completion (certs, upload…) and returns its status and output.
    static func run(_ arguments: [String], timeout: Duration = .seconds(60)) async throws -> (
        status: Int32, output: String
    ) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "lector-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let child = try LectorProcess("run", arguments: arguments, logDirectory: folder)
        let status = await child.waitForExit(timeout: timeout)
        return (status, child.output)
    }
}
