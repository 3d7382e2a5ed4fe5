import Synchronization

/// The database did not answer in time: the work was given up (it may still finish there).
struct DatabaseTimeout: Error, CustomStringConvertible {
    var limit: Duration
    var description: String { "the database did not answer within \(limit)" }
}

/// Database work that must answer within a time, or is given up.
///
/// A link cut without a reset leaves a query waiting for minutes, and a session the server ends
/// under a query can leave postgres-nio's query waiting for ever (seen with
/// `pg_terminate_backend` during a blob's insert): without a limit, a page whose write hung
/// stayed `processing` until the coordinator restarted. The work is abandoned, not awaited (a
/// task group would wait for it); callers take the timeout as a failed write, which they retry.
enum DatabaseTimeLimit {
    static func run<T: Sendable>(
        within limit: Duration, _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let race = Race<T>()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                race.state.withLock { $0.waiting = continuation }
                let timer = Task {
                    try? await Task.sleep(for: limit)
                    guard !Task.isCancelled else { return }
                    race.finish(with: .failure(DatabaseTimeout(limit: limit)))
                }
                let worker = Task {
                    do {
                        race.finish(with: .success(try await work()))
                    } catch {
                        race.finish(with: .failure(error))
                    }
                }
                race.state.withLock {
                    $0.timer = timer
                    $0.worker = worker
                }
            }
        } onCancel: {
            race.cancel()
        }
    }

    /// The answer and the timer, whichever comes first; the other is cancelled.
    private final class Race<T: Sendable>: Sendable {
        struct State {
            var waiting: CheckedContinuation<T, any Error>?
            var timer: Task<Void, Never>?
            var worker: Task<Void, Never>?
        }
        let state = Mutex(State())

        func finish(with result: Result<T, any Error>) {
            let (waiting, timer, worker) = state.withLock { state in
                defer { state.waiting = nil }
                return (state.waiting, state.timer, state.worker)
            }
            guard let waiting else { return }
            // The timer's sleep ends now, not at the limit: one timer per write.
            timer?.cancel()
            if case .failure(let error) = result, error is DatabaseTimeout { worker?.cancel() }
            waiting.resume(with: result)
        }

        func cancel() {
            let (timer, worker) = state.withLock { ($0.timer, $0.worker) }
            timer?.cancel()
            worker?.cancel()
        }
    }
}
