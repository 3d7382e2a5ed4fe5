import Foundation
import Testing

@testable import Coordinator

@Suite("Progress, status and ETA arithmetic")
struct ProgressMathTests {
    typealias Counts = ProgressMath.Counts

    @Test func progressIsTheFloorOfCompletedShare() {
        #expect(ProgressMath.progress(Counts(pending: 7, completed: 1)) == 12)
        #expect(ProgressMath.progress(Counts(pending: 5, completed: 3)) == 37)
        #expect(ProgressMath.progress(Counts(completed: 8)) == 100)
        #expect(ProgressMath.progress(Counts(completed: 2, failed: 1)) == 66)
        #expect(ProgressMath.progress(Counts()) == 0)
    }

    @Test func statusFollowsTheSpec() {
        #expect(ProgressMath.status(Counts(pending: 8)) == .pending)
        #expect(ProgressMath.status(Counts(pending: 7, processing: 1)) == .processing)
        #expect(ProgressMath.status(Counts(pending: 6, completed: 2)) == .processing)
        #expect(ProgressMath.status(Counts(pending: 1, failed: 1)) == .processing)
        #expect(ProgressMath.status(Counts(completed: 8)) == .completed)
        #expect(ProgressMath.status(Counts(completed: 7, failed: 1)) == .failed)
    }

    @Test func etaComesFromMeasuredThroughput() {
        let start = Date(timeIntervalSince1970: 1_000_000)
        // 2 pages in 10 s, 6 left → 30 s.
        #expect(
            ProgressMath.estimatedTimeRemaining(
                Counts(pending: 6, completed: 2), startedAt: start, now: start + 10) == "30 seconds")
        // 1 page in 40 s, 4 left → 160 s → 3 minutes (rounded up).
        #expect(
            ProgressMath.estimatedTimeRemaining(
                Counts(pending: 3, processing: 1, completed: 1), startedAt: start, now: start + 40)
                == "3 minutes")
        #expect(
            ProgressMath.estimatedTimeRemaining(Counts(pending: 8), startedAt: nil) == "Calculating...")
        #expect(
            ProgressMath.estimatedTimeRemaining(Counts(completed: 8), startedAt: start) == "Complete!")
        #expect(
            ProgressMath.estimatedTimeRemaining(Counts(completed: 7, failed: 1), startedAt: start)
                == "Stopped: 1 page failed")
    }

    @Test func humanizedDurations() {
        #expect(ProgressMath.humanize(seconds: 0.2) == "1 second")
        #expect(ProgressMath.humanize(seconds: 45) == "45 seconds")
        #expect(ProgressMath.humanize(seconds: 60) == "1 minute")
        #expect(ProgressMath.humanize(seconds: 61) == "2 minutes")
        #expect(ProgressMath.humanize(seconds: 3600) == "1 hour")
        #expect(ProgressMath.humanize(seconds: 3900) == "1 hour 5 minutes")
    }
}
