import Synchronization
import Testing

@testable import Coordinator

/// A database call that never answers must not hold its caller: it is given up at the limit.
@Suite("Database time limit")
struct DatabaseTimeLimitTests {
    struct Refused: Error {}

    @Test func anAnswerBeforeTheLimitIsReturned() async throws {
        let value = try await DatabaseTimeLimit.run(within: .seconds(30)) { 42 }
        #expect(value == 42)
    }

    @Test func theWorksOwnErrorIsWhatTheCallerSees() async {
        await #expect(throws: Refused.self) {
            try await DatabaseTimeLimit.run(within: .seconds(30)) { () async throws -> Int in throw Refused() }
        }
    }

    @Test func workThatNeverAnswersIsGivenUpAndCancelledAtTheLimit() async throws {
        let sawCancellation = Mutex(false)
        await #expect(throws: DatabaseTimeout.self) {
            try await DatabaseTimeLimit.run(within: .milliseconds(200)) { () async throws -> Int in
                do {
                    try await Task.sleep(for: .seconds(3600))
                } catch {
                    sawCancellation.withLock { $0 = true }
                    throw error
                }
                return 1
            }
        }
        // The abandoned work is told to stop (it may take a moment to notice).
        for _ in 0..<100 where !sawCancellation.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(sawCancellation.withLock { $0 })
    }
}
