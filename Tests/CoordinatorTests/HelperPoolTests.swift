import Foundation
import Testing

@testable import Coordinator

/// The helper pool's failure paths, with stand-in helper programs (the real one is
/// `lector native-helper`, exercised by the LectorTests that kill it mid-page).
@Suite struct HelperPoolTests {
    @Test func aHelperThatDiesFailsTheRequestAsACrashAndIsReplaced() async throws {
        let pool = HelperPool(command: ["/bin/sh", "-c", "exit 3"], size: 1)
        for _ in 0..<3 {
            do {
                _ = try await pool.request(.ocr, Data("x".utf8), deadline: .now + .seconds(10))
                Issue.record("a dead helper answered")
            } catch let failure as HelperPool.Failure {
                #expect(failure.crashed)
            }
        }
    }

    @Test func aHelperPastTheDeadlineIsKilled() async throws {
        let pool = HelperPool(command: ["/bin/sleep", "30"], size: 1)
        let started = ContinuousClock.now
        await #expect(throws: HelperPool.Failure.self) {
            _ = try await pool.request(.render, Data("x".utf8), deadline: .now + .milliseconds(300))
        }
        // Killed at the deadline: the request did not wait for the 30 s.
        #expect(ContinuousClock.now - started < .seconds(20))
    }

    @Test func anUploadWhoseReaderCrashesIsRefusedAsDamaged() async throws {
        let pool = HelperPool(command: ["/bin/sh", "-c", "exit 3"], size: 1)
        do {
            _ = try await UploadReader.open(fixture("mixed-3p"), maxPages: 10, helpers: pool)
            Issue.record("a crashed reader opened the PDF")
        } catch let error as PDFError {
            guard case .damaged(let detail) = error else {
                Issue.record("expected damaged, got \(error)")
                return
            }
            #expect(detail.contains("crashed"))
        }
    }
}
