import Foundation

/// A real PostgreSQL server for the tests of one process: Debian's binaries, a fresh data folder
/// under the temporary folder, on a free loopback port, started on first use and stopped when
/// the process exits. Each test gets a database of its own (`freshDatabase`).
///
/// As root (CI), the server runs as the `postgres` user, which owns every folder it writes.
public actor PostgresServer {
    public static let shared = PostgresServer()

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    private var port: Int?
    /// The first caller's start, which every other caller waits for (the actor is re-entered
    /// while it runs).
    private var starting: Task<Int, any Error>?
    private var databases = 0

    /// `postgres://postgres@127.0.0.1:PORT/NAME` of a new, empty database.
    public func freshDatabase() async throws -> String {
        let port = try await started()
        databases += 1
        let name = "lector_test_\(getpid())_\(databases)"
        try await Self.run(
            Self.binary("createdb"), ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", name])
        return "postgres://postgres@127.0.0.1:\(port)/\(name)"
    }

    /// The running server's port (to stop and start it under a test).
    public func serverPort() async throws -> Int { try await started() }

    /// Stops the server at once (as a crash would), for tests of a database restart.
    public func stopImmediately() async throws {
        Self.signalServer(SIGQUIT)
        // Gone when its pid file is: the next start may then take the folder.
        let deadline = ContinuousClock.now + .seconds(30)
        while Self.serverPID() != nil, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
    }

    /// Starts the stopped server again on the same port, with the same data.
    public func restart() async throws {
        guard let port else { return }
        try await Self.startServer(port: port)
    }

    private func started() async throws -> Int {
        if let port { return port }
        if let starting { return try await starting.value }
        let task = Task { try await Self.startFresh() }
        starting = task
        let port = try await task.value
        self.port = port
        return port
    }

    private static func startFresh() async throws -> Int {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lector-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("sock"), withIntermediateDirectories: true)
        if getuid() == 0 {
            try await run("/bin/chown", ["-R", "postgres:postgres", folder.path])
            try await run("/bin/chmod", ["755", folder.path])
        }
        Self.folder = folder
        atexit { PostgresServer.stopAtExit() }
        try await run(
            binary("initdb"),
            [
                "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync", "-D",
                folder.appendingPathComponent("data").path,
            ],
            asPostgres: true)
        let port = try LoopbackPort.free()
        try await startServer(port: port)
        return port
    }

    /// Runs `postgres` itself as a child, not through `pg_ctl start`: a daemon started by a
    /// child keeps that child from ever being seen to exit by Foundation's `Process`.
    private static func startServer(port: Int) async throws {
        guard let folder else { return }
        let server = Process()
        let arguments = [
            "-D", folder.appendingPathComponent("data").path, "-p", String(port),
            "-k", folder.appendingPathComponent("sock").path, "-c", "listen_addresses=127.0.0.1",
            // fsync off: the tests stop the server (immediately, even) but never the machine.
            "-c", "fsync=off", "-c", "max_connections=300",
        ]
        if getuid() == 0 {
            server.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            server.arguments = ["-u", "postgres", "--", try binary("postgres")] + arguments
        } else {
            server.executableURL = URL(fileURLWithPath: try binary("postgres"))
            server.arguments = arguments
        }
        server.currentDirectoryURL = URL(fileURLWithPath: "/tmp")
        let logURL = folder.appendingPathComponent("server-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logURL.path, contents: nil)
        let log = try FileHandle(forWritingTo: logURL)
        server.standardOutput = log
        server.standardError = log
        server.standardInput = FileHandle.nullDevice
        try server.run()
        try? log.close()
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if (try? await run(binary("pg_isready"), ["-q", "-h", "127.0.0.1", "-p", String(port)])) != nil { return }
            guard server.isRunning else { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let text = (try? String(contentsOf: logURL, encoding: .utf8)) ?? ""
        throw Unavailable(description: "PostgreSQL did not start on port \(port):\n\(text.suffix(2000))")
    }

    /// The running server's process id, from its pid file.
    private static func serverPID() -> pid_t? {
        guard let folder,
            let text = try? String(
                contentsOf: folder.appendingPathComponent("data/postmaster.pid"), encoding: .utf8),
            let line = text.split(separator: "\n").first, let pid = pid_t(line)
        else { return nil }
        return kill(pid, 0) == 0 ? pid : nil
    }

    private static func signalServer(_ signal: Int32) {
        if let pid = serverPID() { kill(pid, signal) }
    }

    /// The data folder of this process's server (nil before it starts). Read by the exit hook,
    /// which cannot reach the actor.
    nonisolated(unsafe) private static var folder: URL?

    private static func stopAtExit() {
        guard let folder else { return }
        signalServer(SIGQUIT)
        for _ in 0..<100 where serverPID() != nil { usleep(20_000) }
        try? FileManager.default.removeItem(at: folder)
    }

    /// Debian keeps the server's programs out of PATH, under `/usr/lib/postgresql/<version>/bin`.
    static func binary(_ name: String) throws -> String {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        for version in versions {
            let path = "\(root)/\(version)/bin/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw Unavailable(description: "PostgreSQL's \(name) is not installed (`make deps` installs `postgresql`)")
    }

    private static func run(_ executable: String, _ arguments: [String], asPostgres: Bool = false) async throws {
        let process = Process()
        if asPostgres && getuid() == 0 {
            process.executableURL = URL(fileURLWithPath: "/usr/sbin/runuser")
            process.arguments = ["-u", "postgres", "--", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        if asPostgres { process.currentDirectoryURL = URL(fileURLWithPath: "/tmp") }
        // A file, not a pipe, for what the program prints.
        let outputURL = FileManager.default.temporaryDirectory.appendingPathComponent("pg-\(UUID().uuidString).out")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // `waitUntilExit` off the cooperative threads (polling `isRunning` never saw runuser end).
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                done.resume()
            }
        }
        let data = (try? Data(contentsOf: outputURL)) ?? Data()
        guard process.terminationStatus == 0 else {
            throw Unavailable(
                description:
                    "\((executable as NSString).lastPathComponent) failed (\(process.terminationStatus)): \(String(decoding: data, as: UTF8.self))"
            )
        }
    }
}
