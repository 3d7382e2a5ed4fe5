import Synchronization

/// Carries a Swift task's cancellation into work running on a Dispatch queue (espeak-ng's callback,
/// LAME's chunk loop), which cannot see the task itself.
final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)

    var isCancelled: Bool { flag.load(ordering: .relaxed) }

    func cancel() { flag.store(true, ordering: .relaxed) }

    /// Runs `body` with a flag that is raised when the calling task is cancelled.
    static func whileRunning<T: Sendable>(_ body: (CancellationFlag) async throws -> T) async throws -> T {
        let flag = CancellationFlag()
        return try await withTaskCancellationHandler {
            try await body(flag)
        } onCancel: {
            flag.cancel()
        }
    }
}
