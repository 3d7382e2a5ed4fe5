import ClusterTransport
import Coordinator
import Foundation
import Logging
import Testing

@testable import PageWorker

/// What a worker holds and how long it works on a job: bounded, whatever its peer sends.
@Suite struct WorkerLimitsTests {
    static func job(text: String, lease: Double) -> PageJob {
        var job = PageJob(
            bookId: 1, pageNumber: 1, totalPages: 1, attempt: 1, lease: UUID(), text: text, voice: "en", language: nil)
        job.leaseSeconds = lease
        return job
    }

    static func system() async throws -> ClusterSystem {
        let authority = try CertificateAuthority.create(clusterName: "limits")
        let pair = try authority.issue(nodeName: "worker", role: "worker", hosts: ["127.0.0.1"])
        return try await ClusterSystem.start(
            settings: ClusterSettings(
                name: "worker", role: "worker", host: "127.0.0.1", port: 0,
                credentials: try ClusterCredentials(
                    caPEM: authority.certificatePEM, certificatePEM: pair.certificatePEM, keyPEM: pair.keyPEM)))
    }

    /// The worker refuses `job` with a reason that says `reason` (taking it fails the test).
    static func expectRefused(_ job: PageJob, by worker: PageWorker, saying reason: String) async throws {
        do {
            _ = try await worker.synthesize(job)
            Issue.record("the job was taken; expected a refusal saying '\(reason)'")
        } catch let refusal as PageJobRefused {
            #expect(refusal.reason.contains(reason), "\(refusal.reason)")
        }
    }

    /// Waits (boundedly) for the worker to hold `count` jobs: a sleep would race a loaded machine.
    static func waitUntilInHand(_ worker: PageWorker, _ count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        func inHand() async -> Int { await worker.whenLocal { $0.allJobsInHand } ?? -1 }
        while await inHand() < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(await inHand() == count)
    }

    @Test func aJobPastItsLeaseIsAbandonedAndFreesItsSlot() async throws {
        let system = try await Self.system()
        let worker = PageWorker(actorSystem: system, concurrency: 1, logger: Logger(label: "test"))
        let long = String(repeating: "This sentence is read aloud again and again. ", count: 2000)
        await #expect(throws: SpeechError.abandoned) {
            _ = try await worker.synthesize(Self.job(text: long, lease: 0.3))
        }
        // The slot is free again: the next job runs.
        let result = try await worker.synthesize(Self.job(text: "Short.", lease: 60))
        #expect(result.audioBytes > 0)
        await system.shutdown()
    }

    /// The coordinator gave up (its call was cancelled): the synthesis stops instead of running on.
    @Test func cancellingTheCallStopsTheSynthesis() async throws {
        let long = String(repeating: "Words that nobody will hear because the caller went away. ", count: 2000)
        // Had the cancellation not reached espeak-ng, the whole text (over an hour of speech) would
        // come back as audio instead of `abandoned`.
        let work = Task { try await SpeechSynthesizer.shared.synthesize(long, voice: "en") }
        try await Task.sleep(for: .milliseconds(200))
        work.cancel()
        await #expect(throws: SpeechError.abandoned) { _ = try await work.value }
    }

    @Test func theWorkerKeepsToItsOwnConcurrency() async throws {
        let system = try await Self.system()
        let worker = PageWorker(actorSystem: system, concurrency: 1, logger: Logger(label: "test"))
        let long = String(repeating: "Words to keep the first job busy for a while. ", count: 300)
        let first = Task { try await worker.synthesize(Self.job(text: long, lease: 3600)) }
        try await Self.waitUntilInHand(worker, 1)
        await #expect(throws: PageJobRefused.self) {
            _ = try await worker.synthesize(Self.job(text: "Second.", lease: 60))
        }
        first.cancel()
        _ = try? await first.value
        #expect(try await worker.synthesize(Self.job(text: "Third, once the slot is free.", lease: 60)).audioBytes > 0)
        await #expect(throws: (any Error).self) {
            _ = try await worker.synthesize(Self.job(text: "Bad lease.", lease: .nan))
        }
        await system.shutdown()
    }

    /// After a takeover the new coordinator's jobs come with a higher epoch: the deposed one's
    /// jobs are refused from then on, and those still in hand do not keep the new ones waiting.
    @Test func jobsOfADeposedCoordinatorAreRefusedAndDoNotHoldItsSlots() async throws {
        let system = try await Self.system()
        let worker = PageWorker(actorSystem: system, concurrency: 1, logger: Logger(label: "test"))
        let long = String(repeating: "Words of the old coordinator's job, read for a while. ", count: 300)
        var old = Self.job(text: long, lease: 3600)
        old.coordinatorEpoch = 1
        let first = Task { try await worker.synthesize(old) }
        try await Self.waitUntilInHand(worker, 1)
        var new = Self.job(text: "The new coordinator's page.", lease: 60)
        new.coordinatorEpoch = 2
        #expect(try await worker.synthesize(new).audioBytes > 0)
        var late = Self.job(text: "Sent by the deposed one.", lease: 60)
        late.coordinatorEpoch = 1
        try await Self.expectRefused(late, by: worker, saying: "deposed coordinator (epoch 1; the active one is 2)")
        first.cancel()
        _ = try? await first.value
        await system.shutdown()
    }

    /// However many epochs a peer makes up, the jobs in hand stay within twice the concurrency.
    @Test func everNewerEpochsDoNotStartUnboundedWork() async throws {
        let system = try await Self.system()
        let worker = PageWorker(actorSystem: system, concurrency: 1, logger: Logger(label: "test"))
        let long = String(repeating: "Words of a job that holds its slot for a while. ", count: 300)
        var running: [Task<PageResult, any Error>] = []
        for epoch in 1...2 {
            var job = Self.job(text: long, lease: 3600)
            job.coordinatorEpoch = Int64(epoch)
            running.append(Task { try await worker.synthesize(job) })
            try await Self.waitUntilInHand(worker, epoch)
        }
        var third = Self.job(text: "Epoch three.", lease: 60)
        third.coordinatorEpoch = 3
        try await Self.expectRefused(third, by: worker, saying: "busy with 2 jobs")
        for task in running { task.cancel() }
        for task in running { _ = try? await task.value }
        #expect(try await worker.synthesize(third).audioBytes > 0)
        await system.shutdown()
    }

    /// Epochs that begin again (the coordinators given a new database) are taken once the newest
    /// one has sent nothing for a while: a deposed coordinator stops within one lease.
    @Test func anOlderEpochIsTakenOnceTheNewestHasFallenSilent() async throws {
        let system = try await Self.system()
        let worker = PageWorker(
            actorSystem: system, concurrency: 1, logger: Logger(label: "test"), epochMemory: .seconds(2))
        var newest = Self.job(text: "From epoch nine.", lease: 60)
        newest.coordinatorEpoch = 9
        _ = try await worker.synthesize(newest)
        var older = Self.job(text: "From epoch one.", lease: 60)
        older.coordinatorEpoch = 1
        await #expect(throws: PageJobRefused.self) { _ = try await worker.synthesize(older) }
        try await Task.sleep(for: .milliseconds(2500))
        #expect(try await worker.synthesize(older).audioBytes > 0)
        // A newer epoch is always taken.
        #expect(try await worker.synthesize(newest).audioBytes > 0)
        await system.shutdown()
    }

    @Test func audioIsReadInPiecesAndThenForgotten() async throws {
        let system = try await Self.system()
        let worker = PageWorker(actorSystem: system, concurrency: 1, logger: Logger(label: "test"))
        let job = Self.job(text: "A page that is read back in pieces.", lease: 60)
        let result = try await worker.synthesize(job)
        var mp3 = Data()
        while mp3.count < result.audioBytes {
            mp3 += try await worker.audioPiece(lease: job.lease, offset: mp3.count, length: 1000).data
        }
        #expect(try await worker.audioPiece(lease: job.lease, offset: mp3.count - 10, length: 1000).complete)
        #expect(mp3.count == result.audioBytes)
        #expect(try probe(mp3)?.codec == "mp3")
        await #expect(throws: PageTransferError.self) {
            _ = try await worker.audioPiece(lease: job.lease, offset: -1, length: 10)
        }
        try await worker.releaseAudio(lease: job.lease)
        // Forgotten: a reader hears nothing more (and is told so after a moment, not kept forever).
        let after = try await worker.audioPiece(lease: job.lease, offset: 0, length: 10)
        #expect(after.data.isEmpty && !after.complete)
        await system.shutdown()
    }

    @Test func stagedImagesAreCheckedPieceByPiece() throws {
        var transfers = PageTransfers()
        let lease = UUID()
        let now = ContinuousClock.now
        try transfers.stage(lease: lease, offset: 0, chunk: Data(count: 10), now: now)
        #expect(throws: PageTransferError.self) {
            try transfers.stage(lease: lease, offset: 5, chunk: Data(count: 10), now: now)  // a gap or overlap
        }
        #expect(throws: PageTransferError.self) {
            try transfers.stage(lease: lease, offset: 10, chunk: Data(count: PageTransfers.maxImageBytes), now: now)
        }
        let other = UUID()
        try transfers.stage(lease: other, offset: 0, chunk: Data(count: 4), now: now)
        #expect(throws: PageTransferError.self) { _ = try transfers.takeImage(lease: other, expecting: 5) }
        try transfers.stage(lease: other, offset: 0, chunk: Data(count: 4), now: now)
        transfers.expire(now: now + PageTransfers.stagingTimeout + .seconds(1))
        #expect(throws: PageTransferError.self) { _ = try transfers.takeImage(lease: other, expecting: 4) }
    }

    @Test func absurdImageHeadersAreRefusedBeforeDecoding() {
        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13])
        png += Data("IHDR".utf8) + Data([0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00])  // 65536 × 65536
        let size = TextRecognizer.pngSize(png)
        #expect(size?.width == 65536 && size?.height == 65536)
        #expect(TextRecognizer.pngSize(Data("not a png at all, not at all".utf8)) == nil)
    }
}
