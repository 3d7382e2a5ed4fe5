import Dispatch
import Foundation
import Synchronization

/// Native work (poppler and cairo rendering, Tesseract) done in helper processes, so that a crash
/// inside a C library costs the page it was working on, never the node.
///
/// A helper is `lector native-helper`, kept running and reused (Tesseract's models load once per
/// helper). A request is one frame on its stdin, the answer one frame on its stdout:
/// `[kind: u8][length: u32 BE][payload]` and `[status: u8][length: u32 BE][payload]`. A helper that
/// dies, answers garbage or overruns the deadline is killed and replaced; the request fails.
public final class HelperPool: Sendable {
    public enum Kind: UInt8, Sendable {
        case ocr = 1
        case render = 2
        /// Open an upload's PDF: its page count, or why it cannot be read.
        case inspect = 3
        /// One page's text layer.
        case text = 4
        /// The outline's chapters (JSON `[BookChapter]`).
        case outline = 5
    }

    /// Why a request to a helper failed.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        /// The helper process died (a crash in the native library), as opposed to a clean error.
        public var crashed: Bool
    }

    /// The helper's command line, e.g. `[path to lector, "native-helper"]`.
    let command: [String]
    let environment: [String: String]
    let size: Int
    /// Largest answer accepted (a rendered page's PNG at the renderer's pixel cap).
    static let maxAnswerBytes = 256 << 20

    private struct State {
        var idle: [Helper] = []
        var running = 0
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init(command: [String], environment: [String: String] = ProcessInfo.processInfo.environment, size: Int) {
        // A helper that died leaves a broken pipe: writing to it must fail the request (EPIPE),
        // not kill this process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        self.command = command
        self.environment = environment
        self.size = max(1, size)
    }

    /// Sends one request and returns the helper's answer payload. Past `deadline` the helper is
    /// killed and the request fails.
    public func request(_ kind: Kind, _ payload: Data, deadline: ContinuousClock.Instant) async throws -> Data {
        let helper = try await checkOut()
        var keep = false
        defer { checkIn(keep ? helper : nil) }
        let watchdog = Task {
            try await Task.sleep(until: deadline)
            helper.kill()
        }
        defer { watchdog.cancel() }
        let result: Result<Data, Failure> = await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: helper.exchange(kind, payload))
            }
        }
        switch result {
        case .success(let answer):
            keep = true
            return answer
        case .failure(let failure):
            if ContinuousClock.now >= deadline {
                throw Failure(description: "the work ran past its deadline and was stopped", crashed: false)
            }
            keep = !failure.crashed
            throw failure
        }
    }

    private func checkOut() async throws -> Helper {
        while true {
            enum Step {
                case use(Helper)
                case spawn
                case wait
            }
            let step = state.withLock { state -> Step in
                if let helper = state.idle.popLast() {
                    state.running += 1
                    return .use(helper)
                }
                if state.running < size {
                    state.running += 1
                    return .spawn
                }
                return .wait
            }
            switch step {
            case .use(let helper):
                return helper
            case .spawn:
                do {
                    return try Helper(command: command, environment: environment)
                } catch {
                    checkIn(nil)
                    throw Failure(description: "cannot start the native helper: \(error)", crashed: false)
                }
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state -> Bool in
                        if !state.idle.isEmpty || state.running < size { return true }
                        state.waiting.append(continuation)
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    /// Gives a helper back (nil: it was killed or died, and a new one may be started).
    private func checkIn(_ helper: Helper?) {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.running -= 1
            if let helper { state.idle.append(helper) }
            return state.waiting.isEmpty ? nil : state.waiting.removeFirst()
        }
        waiter?.resume()
    }
}

/// One helper process, used by one request at a time (the pool hands it out).
private final class Helper: Sendable {
    private let process: Process
    private let input: FileHandle
    private let output: FileHandle

    init(command: [String], environment: [String: String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        process.environment = environment
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = FileHandle.standardError
        try process.run()
        self.process = process
        self.input = stdin.fileHandleForWriting
        self.output = stdout.fileHandleForReading
    }

    deinit {
        kill()
    }

    func kill() {
        if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
    }

    /// Blocks its thread: one request written, one answer read.
    func exchange(_ kind: HelperPool.Kind, _ payload: Data) -> Result<Data, HelperPool.Failure> {
        var frame = Data([kind.rawValue])
        frame.append(contentsOf: withUnsafeBytes(of: UInt32(payload.count).bigEndian) { Array($0) })
        frame.append(payload)
        do {
            try input.write(contentsOf: frame)
        } catch {
            kill()
            return .failure(.init(description: "the native helper crashed before this page (\(error))", crashed: true))
        }
        guard let head = read(5) else {
            kill()
            return .failure(.init(description: "the native helper crashed on this page", crashed: true))
        }
        let length = head[1...4].reduce(0) { $0 << 8 | Int($1) }
        guard length <= HelperPool.maxAnswerBytes, let body = read(length) else {
            kill()
            return .failure(.init(description: "the native helper crashed on this page", crashed: true))
        }
        if head[0] == 0 { return .success(body) }
        return .failure(.init(description: String(decoding: body, as: UTF8.self), crashed: false))
    }

    /// Exactly `count` bytes, or nil at the end of the stream.
    private func read(_ count: Int) -> Data? {
        var data = Data()
        while data.count < count {
            guard let chunk = try? output.read(upToCount: count - data.count), !chunk.isEmpty else { return nil }
            data.append(chunk)
        }
        return data
    }
}
