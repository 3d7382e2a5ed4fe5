import ClusterTransport
import Distributed
import Foundation
import LectorTestSupport
import Logging
import PageWorker
import Synchronization
import Testing

@testable import Coordinator

/// Collects an upload's progress events, as the gateway's sink does.
distributed actor ProgressRecorder: UploadProgressReceiving {
    typealias ActorSystem = ClusterSystem
    var events: [TextProgress] = []

    distributed func textExtracted(_ progress: TextProgress) { events.append(progress) }
    distributed func recorded() -> [TextProgress] { events }
}

/// A worker that always fails, counting its attempts.
distributed actor FailingWorker: PageSynthesizing {
    typealias ActorSystem = ClusterSystem
    var attempts = 0

    distributed func capacity() -> Int { 1 }
    distributed func ocrLanguages() -> [String] { [] }
    distributed func voices() -> [VoiceInfo] { [] }
    distributed func stageImage(lease: UUID, offset: Int, chunk: Data) {}
    distributed func synthesize(_ job: PageJob) async throws -> PageResult {
        attempts += 1
        throw SpeechError.unknownVoice("xx-nonexistent")
    }
    distributed func audioPiece(lease: UUID, offset: Int, length: Int) throws -> AudioPiece {
        throw PageTransferError(reason: "no audio")
    }
    distributed func releaseAudio(lease: UUID) {}
    distributed func attemptCount() -> Int { attempts }
}

/// A worker whose first attempt at a page outlives its lease; later attempts answer at once, with
/// "attempt N" as their audio bytes, read back in pieces of at most 4 bytes to exercise chunking.
distributed actor SlowFirstWorker: PageSynthesizing {
    typealias ActorSystem = ClusterSystem
    var calls = 0
    var held: [UUID: Data] = [:]

    distributed func capacity() -> Int { 1 }
    distributed func ocrLanguages() -> [String] { [] }
    distributed func voices() -> [VoiceInfo] { [] }
    distributed func stageImage(lease: UUID, offset: Int, chunk: Data) {}
    distributed func synthesize(_ job: PageJob) async throws -> PageResult {
        calls += 1
        if job.attempt == 1 { try await Task.sleep(for: .seconds(2)) }
        let audio = Data("attempt \(job.attempt)".utf8)
        held[job.lease] = audio
        return PageResult(audioBytes: audio.count, durationSeconds: 1, voice: "en")
    }
    distributed func audioPiece(lease: UUID, offset: Int, length: Int) async throws -> AudioPiece {
        // Nothing until the job is done (as a worker that has not started speaking yet).
        for _ in 0..<100 where held[lease] == nil { try await Task.sleep(for: .milliseconds(20)) }
        guard let audio = held[lease] else { return AudioPiece(data: Data(), complete: false) }
        let piece = Data(audio.dropFirst(offset).prefix(min(length, 4)))
        return AudioPiece(data: piece, complete: offset + piece.count == audio.count)
    }
    distributed func releaseAudio(lease: UUID) { held[lease] = nil }
    distributed func callCount() -> Int { calls }
}

/// A worker whose first attempt at a page streams some audio and then fails; the second attempt
/// streams other bytes and succeeds.
distributed actor StreamThenFailWorker: PageSynthesizing {
    typealias ActorSystem = ClusterSystem
    struct Stream {
        var data: Data
        var complete = false
        var failed = false
    }
    var streams: [UUID: Stream] = [:]

    distributed func capacity() -> Int { 8 }
    distributed func ocrLanguages() -> [String] { [] }
    distributed func voices() -> [VoiceInfo] { [] }
    distributed func stageImage(lease: UUID, offset: Int, chunk: Data) {}
    distributed func synthesize(_ job: PageJob) async throws -> PageResult {
        if job.attempt == 1 {
            streams[job.lease] = Stream(data: Data("first attempt, partial".utf8))
            try await Task.sleep(for: .seconds(1))
            streams[job.lease]?.failed = true
            throw SpeechError.synthesisFailed("the first attempt breaks")
        }
        let audio = Data("second attempt: the whole page".utf8)
        streams[job.lease] = Stream(data: audio, complete: true)
        return PageResult(audioBytes: audio.count, durationSeconds: 1, voice: "en")
    }
    distributed func audioPiece(lease: UUID, offset: Int, length: Int) async throws -> AudioPiece {
        for _ in 0..<100 {
            if let stream = streams[lease] {
                if stream.failed { throw PageTransferError(reason: "the job failed") }
                if offset < stream.data.count || stream.complete {
                    let piece = Data(stream.data.dropFirst(offset).prefix(length))
                    return AudioPiece(
                        data: piece, complete: stream.complete && offset + piece.count == stream.data.count)
                }
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return AudioPiece(data: Data(), complete: false)
    }
    distributed func releaseAudio(lease: UUID) { streams[lease] = nil }
}

/// Names of the book events it is sent.
distributed actor EventRecorder: BookEventReceiving {
    typealias ActorSystem = ClusterSystem
    var received: [String] = []

    init(actorSystem: ClusterSystem) { self.actorSystem = actorSystem }

    distributed func receive(_ batch: Data) { received += BookEventBatch.decode(batch)?.map(\.name) ?? [] }
    distributed func names() -> [String] { received }
}

/// A coordinator and worker nodes on loopback with real mutual TLS, in this process.
struct FlowCluster {
    let folder: URL
    let coordinatorSystem: ClusterSystem
    let workerSystem: ClusterSystem
    let coordinator: Coordinator
    let coordinatorSettings: CoordinatorSettings

    static func start(
        maxAttempts: Int = 3, jobLease: Duration = .seconds(30), store: CoordinatorSettings.Store = .sqlite
    ) async throws -> FlowCluster {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flow-\(UUID().uuidString)")
        let authority = try CertificateAuthority.create(clusterName: "flow")
        func settings(_ name: String, seeds: [ClusterSettings.Seed]) throws -> ClusterSettings {
            let pair = try authority.issue(nodeName: name, role: name, hosts: ["127.0.0.1"])
            var settings = ClusterSettings(
                name: name, role: name, host: "127.0.0.1", port: 0,
                credentials: try ClusterCredentials(
                    caPEM: authority.certificatePEM, certificatePEM: pair.certificatePEM, keyPEM: pair.keyPEM),
                seeds: seeds)
            settings.heartbeatInterval = .milliseconds(100)
            return settings
        }
        let coordinatorSystem = try await ClusterSystem.start(settings: settings("coordinator", seeds: []))
        let workerSystem = try await ClusterSystem.start(
            settings: settings(
                "worker", seeds: [.init(name: "coordinator", host: "127.0.0.1", port: coordinatorSystem.node.port)]))
        var coordinatorSettings = CoordinatorSettings(
            databasePath: folder.appendingPathComponent("db.sqlite").path,
            audioDirectory: folder.appendingPathComponent("audio").path,
            uploadDirectory: folder.appendingPathComponent("uploads").path, maxAttempts: maxAttempts,
            jobLease: jobLease)
        coordinatorSettings.retryBackoff = .milliseconds(20)
        coordinatorSettings.store = store
        let coordinator = try Coordinator(
            actorSystem: coordinatorSystem, settings: coordinatorSettings, logger: Logger(label: "test.coordinator"))
        try await coordinator.whenLocal { try await $0.start() }
        // Both sides know each other before a test starts: a call to the worker's side before the
        // coordinator has taken it in (the upload's progress receiver, on a slow machine) fails.
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline,
            coordinatorSystem.members.first(where: { $0.name == "worker" })?.status != .up
                || workerSystem.members.first(where: { $0.name == "coordinator" })?.status != .up
        {
            try await Task.sleep(for: .milliseconds(20))
        }
        return FlowCluster(
            folder: folder, coordinatorSystem: coordinatorSystem, workerSystem: workerSystem, coordinator: coordinator,
            coordinatorSettings: coordinatorSettings)
    }

    func upload(_ name: String, metadata: UploadMetadata = UploadMetadata(), progress: ClusterActorID? = nil)
        async throws -> BookCreated
    {
        let data = try Data(contentsOf: fixture(name))
        let id = try await coordinator.beginUpload()
        var offset = 0
        while offset < data.count {
            let end = min(offset + 16_384, data.count)
            try await coordinator.appendUpload(id, chunk: data[offset..<end])
            offset = end
        }
        _ = try await coordinator.inspectUpload(id)
        return try await coordinator.finishUpload(id, metadata: metadata, progress: progress)
    }

    /// A cluster on a fresh PostgreSQL database with a real worker voicing `concurrency` pages at
    /// once, and the coordinator's store (for its tests-only hooks). The worker lives as long as
    /// the tuple's `worker` is held.
    static func onPostgres(workerConcurrency concurrency: Int = 2) async throws -> (
        cluster: FlowCluster, store: PostgresBookStore, worker: PageWorker
    ) {
        let cluster = try await FlowCluster.start(
            store: .postgres(url: try await PostgresServer.shared.freshDatabase()))
        let worker = PageWorker(
            actorSystem: cluster.workerSystem, concurrency: concurrency, logger: Logger(label: "test.worker"))
        cluster.workerSystem.receptionist.register(worker, key: pageWorkerKey)
        let local = await cluster.coordinator.whenLocal { $0.store as? PostgresBookStore }
        return (cluster, try #require(local ?? nil), worker)
    }

    func waitUntilSettled(_ book: Int64, timeout: Duration = .seconds(60)) async throws -> BookStatus {
        let deadline = ContinuousClock.now + timeout
        var status = try await coordinator.status(book: book)
        while ContinuousClock.now < deadline,
            status.processingStatus == .pending || status.processingStatus == .processing
        {
            try await Task.sleep(for: .milliseconds(100))
            status = try await coordinator.status(book: book)
        }
        return status
    }

    func stop() async {
        await workerSystem.shutdown()
        await coordinatorSystem.shutdown()
        try? FileManager.default.removeItem(at: folder)
    }
}

@Suite("Coordinator with workers over the actor system", .serialized)
struct CoordinatorFlowTests {
    @Test func realWorkerVoicesTheEnglishSample() async throws {
        let cluster = try await FlowCluster.start()
        let worker = PageWorker(actorSystem: cluster.workerSystem, concurrency: 2, logger: Logger(label: "test.worker"))
        cluster.workerSystem.receptionist.register(worker, key: pageWorkerKey)
        let recorder = ProgressRecorder(actorSystem: cluster.workerSystem)

        let created = try await cluster.upload(
            "english-8p", metadata: UploadMetadata(filename: "gpl.pdf"), progress: recorder.id)
        #expect(created.totalPages == 8)
        #expect(created.title == "gpl")
        #expect(created.statusUrl == "/api/books/\(created.bookId)/status/")
        let events = try await recorder.recorded()
        #expect(events.map(\.currentPage) == Array(1...8))
        #expect(events.last?.progress == 100)
        #expect(events.allSatisfy { $0.chars > 1000 })

        let status = try await cluster.waitUntilSettled(created.bookId)
        #expect(status.processingStatus == .completed)
        #expect(status.audioReady)
        #expect(status.processingProgress == 100)
        #expect(status.pagesWithAudio == 8)
        #expect(status.estimatedTimeRemaining == "Complete!")
        let pages = try await cluster.coordinator.pages(book: created.bookId, offset: 2, limit: 3)
        #expect(pages.pages.map(\.pageNumber) == [3, 4, 5])
        for page in pages.pages {
            #expect(page.voice == "en")
            #expect(page.audioUrl == "/media/books/\(created.bookId)/page_000\(page.pageNumber).mp3")
            let file = cluster.folder.appendingPathComponent(
                "audio/books/\(created.bookId)/page_000\(page.pageNumber).mp3")
            let slice = try await cluster.coordinator.audio(
                book: created.bookId, page: page.pageNumber, offset: 0, length: 1 << 22)
            #expect(slice.data == (try Data(contentsOf: file)))
            #expect(abs(Double(page.audioDuration ?? 0) - (try probeDuration(slice.data))) <= 1)
        }
        let activity = try await cluster.coordinator.workerActivity()
        #expect(activity.map(\.jobsDone) == [8])
        _ = worker
        await cluster.stop()
    }

    @Test func aFailedAttemptsStreamedAudioIsDiscardedAndItsListenerToldSo() async throws {
        let cluster = try await FlowCluster.start(maxAttempts: 3)
        let worker = StreamThenFailWorker(actorSystem: cluster.workerSystem)
        cluster.workerSystem.receptionist.register(worker, key: pageWorkerKey)
        let created = try await cluster.upload("english-8p")
        // A listener starts on page 1 while its first attempt streams (404 until a worker has it).
        let deadline = ContinuousClock.now + .seconds(10)
        var first = LiveAudioSlice(attempt: nil, offset: 0, data: Data(), complete: false, totalBytes: nil)
        while first.data.isEmpty, ContinuousClock.now < deadline {
            do {
                first = try await cluster.coordinator.liveAudio(
                    book: created.bookId, page: 1, offset: 0, length: 1000, attempt: first.attempt)
            } catch let error as LectorError where error.status == 404 {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        #expect(first.data == Data("first attempt, partial".utf8))
        #expect(!first.complete && first.totalBytes == nil)
        let attempt = try #require(first.attempt)
        let status = try await cluster.waitUntilSettled(created.bookId)
        #expect(status.processingStatus == .completed)
        // The listener's attempt failed: told so, not handed the retry's bytes.
        await #expect(throws: LectorError.self) {
            _ = try await cluster.coordinator.liveAudio(
                book: created.bookId, page: 1, offset: first.data.count, length: 1000, attempt: attempt)
        }
        // The page's file is the second attempt's audio alone; no temporary file is left.
        let folder = cluster.folder.appendingPathComponent("audio/books/\(created.bookId)")
        #expect(
            try Data(contentsOf: folder.appendingPathComponent("page_0001.mp3"))
                == Data("second attempt: the whole page".utf8))
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(files.filter { $0.hasSuffix(".tmp") }.isEmpty, "\(files)")
        // A new listener reads the final file.
        let fresh = try await cluster.coordinator.liveAudio(
            book: created.bookId, page: 1, offset: 0, length: 1000, attempt: nil)
        #expect(fresh.attempt == nil && fresh.complete && fresh.data == Data("second attempt: the whole page".utf8))
        _ = worker
        await cluster.stop()
    }

    @Test func pageThatAlwaysFailsStopsAfterMaxAttemptsAndRetryRequeuesIt() async throws {
        let cluster = try await FlowCluster.start(maxAttempts: 3)
        let worker = FailingWorker(actorSystem: cluster.workerSystem)
        cluster.workerSystem.receptionist.register(worker, key: pageWorkerKey)

        let created = try await cluster.upload("mixed-3p")
        let status = try await cluster.waitUntilSettled(created.bookId)
        // Pages 1 and 2 fail on the worker; page 3 is blank (no text layer, no dark pixel) and
        // completes on the coordinator without a job.
        #expect(status.processingStatus == .failed)
        #expect(status.pagesStatus.failed == 2)
        #expect(status.pagesStatus.completed == 1)
        #expect(try await worker.attemptCount() == 6)
        let pages = try await cluster.coordinator.pages(book: created.bookId, offset: 0, limit: nil)
        #expect(pages.pages.prefix(2).allSatisfy { $0.error?.contains("xx-nonexistent") == true })
        #expect(pages.pages[2].processingStatus == .completed && pages.pages[2].textSource == "ocr")

        let retry = try await cluster.coordinator.retry(book: created.bookId)
        #expect(retry.requeuedPages == 2)
        let again = try await cluster.waitUntilSettled(created.bookId)
        #expect(again.pagesStatus.failed == 2)
        #expect(try await worker.attemptCount() == 12)

        try await cluster.coordinator.delete(book: created.bookId)
        await #expect(throws: LectorError.notFound(book: created.bookId)) {
            _ = try await cluster.coordinator.status(book: created.bookId)
        }
        await cluster.stop()
    }

    @Test func answersAfterTheLeaseAreIgnored() async throws {
        let cluster = try await FlowCluster.start(jobLease: .milliseconds(400))
        let worker = SlowFirstWorker(actorSystem: cluster.workerSystem)
        cluster.workerSystem.receptionist.register(worker, key: pageWorkerKey)
        let created = try await cluster.upload("mixed-3p")
        let status = try await cluster.waitUntilSettled(created.bookId)
        #expect(status.processingStatus == .completed)
        // Each page with text: attempt 1 timed out (its late answer is dropped), attempt 2 was
        // accepted. The blank page 3 never reaches a worker.
        #expect(try await worker.callCount() == 4)
        let key = PageKey(book: created.bookId, page: 1)
        let stored = try await cluster.coordinator.audio(book: key.book, page: key.page, offset: 0, length: 100)
        #expect(String(decoding: stored.data, as: UTF8.self) == "attempt 2")

        // A duplicate or stale answer reaching the coordinator directly is fenced off too.
        await cluster.coordinator.whenLocal { coordinator in
            await coordinator.finished(
                key, token: UUID(),
                with: .success((PageResult(audioBytes: 5, durationSeconds: 9, voice: "hi"), nil)))
        }
        let after = try await cluster.coordinator.audio(book: key.book, page: key.page, offset: 0, length: 100)
        #expect(String(decoding: after.data, as: UTF8.self) == "attempt 2")
        let pages = try await cluster.coordinator.pages(book: key.book, offset: 0, limit: 1)
        #expect(pages.pages[0].voice == "en")
        await cluster.stop()
    }

    @Test func rejectedUploadsLeaveNothingBehind() async throws {
        let cluster = try await FlowCluster.start()
        for (name, status) in [("not-a-pdf", 415), ("encrypted", 422), ("truncated", 422)] {
            do {
                _ = try await cluster.upload(name)
                Issue.record("\(name) was accepted")
            } catch let error as LectorError {
                #expect(error.status == status, "\(name): \(error)")
            }
        }
        #expect(try await cluster.coordinator.listBooks().isEmpty)
        let spooled =
            (try? FileManager.default.contentsOfDirectory(atPath: cluster.folder.appendingPathComponent("uploads").path))
            ?? []
        #expect(spooled.isEmpty)
        await cluster.stop()
    }

    /// A standby that wins the lease back on the same node starts a new coordinator, which clears
    /// the upload folder under the old one's open uploads (the PostgreSQL soak saw this).
    @Test func anUploadOpenWhenItsCoordinatorIsReplacedIsRefusedAsATakeover() async throws {
        let cluster = try await FlowCluster.start()
        let data = try Data(contentsOf: fixture("english-40p"))
        let id = try await cluster.coordinator.beginUpload()
        try await cluster.coordinator.appendUpload(id, chunk: data)
        await cluster.coordinator.whenLocal { await $0.stop() }
        let successor = try Coordinator(
            actorSystem: cluster.coordinatorSystem, settings: cluster.coordinatorSettings,
            logger: Logger(label: "test.successor"))
        try await successor.whenLocal { try await $0.start() }

        do {
            _ = try await cluster.coordinator.inspectUpload(id)
            Issue.record("the replaced coordinator inspected an upload whose file is gone")
        } catch let error as LectorError {
            #expect(error.status == 503)
            #expect(error.code == "coordinator_changed", "\(error)")
        }
        await #expect(throws: LectorError.coordinatorChanged) { _ = try await cluster.coordinator.beginUpload() }
        // The client sends it again, to the coordinator now in charge.
        let again = try await successor.beginUpload()
        try await successor.appendUpload(again, chunk: data)
        #expect(try await successor.inspectUpload(again).totalPages == 40)
        await successor.whenLocal { await $0.stop() }
        await cluster.stop()
    }

    /// What the coordinator cannot know about a completion the database did not answer:
    /// - `committed`: the link dropped between its commit and the answer;
    /// - `landsLate`: it was given up at the time limit while waiting on a row lock, and lands
    ///   once the lock is free, after the coordinator has dealt with the failure.
    /// Either way its pages point at their audio, which must still be there.
    enum UnansweredCompletion: CaseIterable { case committed, landsLate }

    @Test(arguments: UnansweredCompletion.allCases)
    func aCompletionTheDatabaseDidNotAnswerKeepsItsAudio(_ way: UnansweredCompletion) async throws {
        let (cluster, store, worker) = try await FlowCluster.onPostgres()
        switch way {
        case .committed: store.failAfterCompletionCommits.withLock { $0 = DatabaseTimeout(limit: .seconds(30)) }
        case .landsLate: store.landCompletionLate.withLock { $0 = 1 }
        }

        let created = try await cluster.upload("english-8p")
        let status = try await cluster.waitUntilSettled(created.bookId)
        #expect(
            store.failAfterCompletionCommits.withLock { $0 == nil } && store.landCompletionLate.withLock { $0 == nil },
            "no completion was made to fail")
        #expect(status.processingStatus == .completed)
        #expect(status.pagesStatus.failed == 0)
        let pages = try await cluster.coordinator.pages(book: created.bookId, offset: 0, limit: nil).pages
        let voiced = pages.filter { $0.audioUrl != nil }.map(\.pageNumber)
        #expect(voiced == Array(1...8))
        for page in voiced {
            do {
                let slice = try await cluster.coordinator.audio(book: created.bookId, page: page, offset: 0, length: 4)
                #expect(slice.data.prefix(3) == Data("ID3".utf8) || slice.data.first == 0xFF, "page \(page)")
            } catch {
                Issue.record("page \(page) is completed and its audio is gone: \(error)")
            }
        }
        // One blob per voiced page: nothing kept that no page points at.
        let blobs = try await store.transaction { connection in
            let rows = try await connection.query(
                "SELECT count(*) FROM audio_blob WHERE book_id = \(created.bookId) AND page_number > 0",
                logger: Logger(label: "test.check"))
            var count = 0
            for try await value in rows.decode(Int.self) { count = value }
            return count
        }
        #expect(blobs == voiced.count)
        withExtendedLifetime(worker) {}
        await cluster.stop()
    }

    /// The book's last completion lands after its caller was told it failed: no `page_completed`
    /// went out for it, so the coordinator, finding the page settled, says where the book stands,
    /// and a listener following the book's events hears that it is done.
    @Test func aLastCompletionThatLandsLateStillTellsSubscribersTheBookIsDone() async throws {
        // One page at a time, so each completion is its own, and the 8th is the book's last.
        let (cluster, store, worker) = try await FlowCluster.onPostgres(workerConcurrency: 1)
        store.landCompletionLate.withLock { $0 = 8 }
        let recorder = EventRecorder(actorSystem: cluster.workerSystem)

        let created = try await cluster.upload("english-8p")
        _ = try await cluster.coordinator.subscribeEvents(book: created.bookId, after: nil, receiver: recorder.id)
        #expect(try await cluster.waitUntilSettled(created.bookId).processingStatus == .completed)
        #expect(store.landCompletionLate.withLock { $0 == nil }, "the last completion was not made to land late")
        let deadline = ContinuousClock.now + .seconds(10)
        while try await !recorder.names().contains("book_completed"), ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let names = try await recorder.names()
        #expect(names.contains("book_completed"), "\(names)")
        withExtendedLifetime(worker) {}
        await cluster.stop()
    }

    /// A coordinator stopped under a request (deposed, or shutting down) lets go of its database:
    /// the client is told to try again (503), as it would be by the next coordinator, not that the
    /// server broke (500).
    @Test func aStoppedCoordinatorTellsItsClientsToTryAgain() async throws {
        let (cluster, _, worker) = try await FlowCluster.onPostgres()
        let created = try await cluster.upload("english-8p")
        #expect(try await cluster.waitUntilSettled(created.bookId).processingStatus == .completed)
        #expect(try await cluster.coordinator.listBooks().count == 1)

        await cluster.coordinator.whenLocal { await $0.stop() }
        let coordinator = cluster.coordinator
        let book = created.bookId
        let requests: [(String, () async throws -> Void)] = [
            ("list", { _ = try await coordinator.listBooks() }),
            ("status", { _ = try await coordinator.status(book: book) }),
            ("pages", { _ = try await coordinator.pages(book: book, offset: 0, limit: nil) }),
            ("audio", { _ = try await coordinator.audio(book: book, page: 1, offset: 0, length: 100) }),
            (
                "live audio",
                { _ = try await coordinator.liveAudio(book: book, page: 1, offset: 0, length: 100, attempt: nil) }
            ),
            ("save position", { _ = try await coordinator.savePosition(book: book, page: 2, seconds: 1) }),
            ("delete", { try await coordinator.delete(book: book) }),
        ]
        for (name, request) in requests {
            do {
                try await request()
                Issue.record("\(name) was answered by a stopped coordinator")
            } catch let error as LectorError {
                #expect(error == LectorError.coordinatorChanged, "\(name): \(error)")
            } catch {
                Issue.record("\(name): \(error) is not a client's answer")
            }
        }
        withExtendedLifetime(worker) {}
        await cluster.stop()
    }
}

/// Decodes an MP3 with ffprobe and returns its duration in seconds.
func probeDuration(_ mp3: Data) throws -> Double {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("probe-\(UUID().uuidString).mp3")
    try mp3.write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
    process.arguments = ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", url.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    process.waitUntilExit()
    let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return Double(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
}

@Suite("Retry and delete edge cases", .serialized)
struct RetryDeleteEdgeTests {
    @Test func unreadablePagesAreNotRetriedIntoCompletedPages() async throws {
        let cluster = try await FlowCluster.start()
        let worker = PageWorker(actorSystem: cluster.workerSystem, concurrency: 2, logger: Logger(label: "test.worker"))
        cluster.workerSystem.receptionist.register(worker, key: pageWorkerKey)
        var damaged = try Data(contentsOf: fixture("english-8p"))
        let middle = damaged.count / 2
        damaged.replaceSubrange(middle..<middle + 4000, with: Data(count: 4000))
        let id = try await cluster.coordinator.beginUpload()
        try await cluster.coordinator.appendUpload(id, chunk: damaged)
        let created = try await cluster.coordinator.finishUpload(id, metadata: UploadMetadata(), progress: nil)
        let first = try await cluster.waitUntilSettled(created.bookId)
        #expect(first.processingStatus == .failed)
        let failed = first.pagesStatus.failed
        #expect(failed >= 1)
        let retry = try await cluster.coordinator.retry(book: created.bookId)
        #expect(retry.requeuedPages == 0)
        let after = try await cluster.waitUntilSettled(created.bookId)
        #expect(after.processingStatus == .failed)
        #expect(after.pagesStatus.failed == failed)
        #expect(!after.audioReady)
        let pages = try await cluster.coordinator.pages(book: created.bookId, offset: 0, limit: nil).pages
        #expect(pages.filter { $0.processingStatus == .failed }.allSatisfy { $0.textSource == "none" })
        _ = worker
        await cluster.stop()
    }

    @Test func deletingABookWhileAPageIsVoicedLeavesNoFile() async throws {
        let cluster = try await FlowCluster.start()
        let worker = SlowFirstWorker(actorSystem: cluster.workerSystem)
        cluster.workerSystem.receptionist.register(worker, key: pageWorkerKey)
        let created = try await cluster.upload("mixed-3p")
        // Attempt 1 of page 1 is held by the worker for 2 s; delete the book meanwhile.
        try await Task.sleep(for: .milliseconds(300))
        try await cluster.coordinator.delete(book: created.bookId)
        try await Task.sleep(for: .milliseconds(2500))
        let folder = cluster.folder.appendingPathComponent("audio/books/\(created.bookId)")
        #expect(!FileManager.default.fileExists(atPath: folder.path))
        await cluster.stop()
    }
}

@Suite("Audio that cannot be stored", .serialized)
struct AudioWriteFailureTests {
    @Test func aPageWhoseAudioCannotBeWrittenIsRetriedThenFailsWithTheReason() async throws {
        let cluster = try await FlowCluster.start(maxAttempts: 2)
        let worker = PageWorker(actorSystem: cluster.workerSystem, concurrency: 2, logger: Logger(label: "test.worker"))
        cluster.workerSystem.receptionist.register(worker, key: pageWorkerKey)
        // A file where the book's audio folder must go: every write of book 1 fails (as root,
        // permissions would not stop it; this does).
        let books = cluster.folder.appendingPathComponent("audio/books")
        try FileManager.default.createDirectory(at: books, withIntermediateDirectories: true)
        try Data("in the way".utf8).write(to: books.appendingPathComponent("1"))
        let created = try await cluster.upload("english-8p")
        #expect(created.bookId == 1)
        let status = try await cluster.waitUntilSettled(created.bookId)
        #expect(status.processingStatus == .failed)
        #expect(status.pagesStatus.processing == 0 && status.pagesStatus.pending == 0)
        let pages = try await cluster.coordinator.pages(book: 1, offset: 0, limit: nil)
        #expect(pages.pages.allSatisfy { $0.processingStatus == .failed })
        let reason = try #require(pages.pages.first?.error)
        #expect(reason.contains("could not be stored"), "\(reason)")
        #expect(!reason.contains(cluster.folder.path))

        // Once the disk is fixed, a retry completes the book.
        try FileManager.default.removeItem(at: books.appendingPathComponent("1"))
        _ = try await cluster.coordinator.retry(book: 1)
        #expect(try await cluster.waitUntilSettled(1).processingStatus == .completed)
        await cluster.stop()
    }

    @Test func leftoversOfAnInterruptedJoinAreRemovedAtStart() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sweep-\(UUID().uuidString)")
        let work = folder.appendingPathComponent("books/3/.book-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try Data("partial".utf8).write(to: work.appendingPathComponent("book.mp3"))
        let half = folder.appendingPathComponent("books/3/.page_0001.mp3.x.tmp")
        try Data("half".utf8).write(to: half)
        let store = FileAudioStore(directory: folder.path)
        #expect(store.removeInterruptedWrites() == 2)
        #expect(!FileManager.default.fileExists(atPath: work.path))
        #expect(!FileManager.default.fileExists(atPath: half.path))
        try? FileManager.default.removeItem(at: folder)
    }
}

@Suite("The coordinator answers only gateways", .serialized)
struct CoordinatorCallerTests {
    @Test func aWorkerCertificateCannotDeleteBooks() async throws {
        let cluster = try await FlowCluster.start()
        let created = try await cluster.upload("mixed-3p")
        // The worker node's certificate grants `worker`: it may answer jobs, not use the book API.
        let fromWorker = try Coordinator.resolve(id: cluster.coordinator.id, using: cluster.workerSystem)
        do {
            try await fromWorker.delete(book: created.bookId)
            Issue.record("a worker deleted a book")
        } catch let error as ClusterError {
            guard case .forbidden(let message) = error else {
                Issue.record("expected forbidden, got \(error)")
                return
            }
            #expect(message.contains("delete"))
        }
        await #expect(throws: ClusterError.self) { _ = try await fromWorker.listBooks() }
        #expect(try await cluster.coordinator.status(book: created.bookId).totalPages == 3)
        await cluster.stop()
    }
}

@Suite("An upload whose caller gave up", .serialized)
struct CancelledUploadTests {
    @Test func aCancelledFinishReadsNoMoreAndMakesNoBook() async throws {
        let cluster = try await FlowCluster.start()
        let data = try Data(contentsOf: fixture("english-40p"))
        let id = try await cluster.coordinator.beginUpload()
        try await cluster.coordinator.appendUpload(id, chunk: data)
        _ = try await cluster.coordinator.inspectUpload(id)
        let coordinator = cluster.coordinator
        // Cancelled before it runs, as a remote caller's `cancel` does to the callee's task.
        let finishing = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await coordinator.finishUpload(id, metadata: UploadMetadata(), progress: nil)
        }
        await #expect(throws: LectorError.self) { _ = try await finishing.value }
        #expect(try await cluster.coordinator.listBooks().isEmpty)
        await cluster.stop()
    }
}
