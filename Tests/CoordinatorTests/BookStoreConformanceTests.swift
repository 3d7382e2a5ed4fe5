import Foundation
import LectorTestSupport
import Logging
import PostgresNIO
import Synchronization
import Testing

@testable import Coordinator

/// Both stores behind `BookStore` and `AudioStore` keep the same guarantees: each test runs once
/// on SQLite (a file) and once on PostgreSQL (a real server, a fresh database per test).
@Suite("Book store conformance, SQLite and PostgreSQL")
struct BookStoreConformanceTests {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case sqlite, postgres
        var testDescription: String { rawValue }
    }

    /// A store of one kind, with its audio store, and what to remove after.
    struct Stores {
        var books: any BookStore
        var audio: any AudioStore
        var folder: URL
        var postgres: PostgresBookStore?

        static func make(_ kind: Kind) async throws -> Stores {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lector-store-\(UUID())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            switch kind {
            case .sqlite:
                let audio = folder.appendingPathComponent("audio").path
                return Stores(
                    books: try SQLiteBookStore(path: folder.appendingPathComponent("db.sqlite").path),
                    audio: FileAudioStore(directory: audio), folder: folder)
            case .postgres:
                let url = try await PostgresServer.shared.freshDatabase()
                let store = try PostgresBookStore(url: url, logger: Logger(label: "test.store"))
                try await store.prepare()
                return Stores(
                    books: store,
                    audio: PostgresAudioStore(
                        books: store, localDirectory: folder.appendingPathComponent("audio").path),
                    folder: folder, postgres: store)
            }
        }

        func remove() async {
            await books.close()
            try? FileManager.default.removeItem(at: folder)
        }
    }

    static let policy = Dispatcher<any PageSynthesizing>.Policy(maxAttempts: 2, maxLosses: 2, backoff: .zero)

    static func pages(_ count: Int, unreadable: Set<Int> = []) -> [NewPage] {
        (1...count).map { number in
            NewPage(
                number: number, text: "Page \(number) says hello.",
                unreadable: unreadable.contains(number) ? "broken" : nil)
        }
    }

    static func metadata(_ title: String) -> UploadMetadata {
        var metadata = UploadMetadata()
        metadata.title = title
        metadata.language = "english"
        return metadata
    }

    /// Audio written whole, ready to commit: what a finished transfer from a worker leaves.
    static func written(_ data: Data, book: Int64, page: Int, in audio: any AudioStore) throws -> PendingAudio {
        let pending = try audio.beginWrite(book: book, page: page)
        try pending.append(data)
        try pending.finish()
        return pending
    }

    /// A one-page book whose page 1 has `audio` committed (not yet recorded by the page).
    static func bookWithAudio(_ audio: String, in stores: Stores) async throws -> (id: Int64, reference: String) {
        let id = try await stores.books.createBook(title: "A", metadata: metadata("A"), pages: pages(1)).id!
        let pending = try written(Data(audio.utf8), book: id, page: 1, in: stores.audio)
        return (id, try await stores.audio.commit(pending))
    }

    static func completion(_ key: PageKey, attempt: Int, path: String?, seconds: Double = 2.5) -> PageCompletion {
        PageCompletion(
            key: key, attempt: attempt, audioPath: path, duration: seconds, voice: "en", textSource: "pdf", text: nil,
            language: "en", segments: [AudioSegment(start: 0, end: seconds, textOffset: 0, textLength: 4)],
            engine: "espeak-ng")
    }

    @Test(arguments: Kind.allCases)
    func aBookIsStoredWholeWithItsCountersAndChapters(_ kind: Kind) async throws {
        let stores = try await Stores.make(kind)
        defer { Task { await stores.remove() } }
        let store = stores.books
        let book = try await store.createBook(
            title: "Three", metadata: Self.metadata("Three"), pages: Self.pages(3, unreadable: [2]),
            chapters: [BookChapter(title: "One", page: 1), BookChapter(title: "Three", page: 3)])
        let id = try #require(book.id)
        #expect(book.totalPages == 3)
        let status = try await store.status(book: id)
        #expect(status.pagesStatus.pending == 2)
        #expect(status.pagesStatus.failed == 1)
        #expect(status.processingStatus == .processing)  // a failed page counts as started
        #expect(try await store.detail(book: id).chapters.map(\.title) == ["One", "Three"])
        #expect(try await store.chapters(book: id).map(\.page) == [1, 3])
        #expect(try await store.summaries().map(\.id) == [id])
        let first = try await store.pages(book: id, offset: 0, limit: 2)
        #expect(first.pages.map(\.pageNumber) == [1, 2])
        #expect(first.nextOffset == 2)
        #expect(first.pages[1].error == "broken")
        let rest = try await store.pages(book: id, offset: 2, limit: 2)
        #expect(rest.pages.map(\.pageNumber) == [3])
        #expect(rest.nextOffset == nil)
        #expect(try await store.bookExists(id))

        // One transaction: a book whose pages cannot all be stored leaves nothing behind.
        var twice = Self.pages(2)
        twice[1].number = 1
        await #expect(throws: (any Error).self) {
            _ = try await store.createBook(title: "Twice", metadata: Self.metadata("Twice"), pages: twice, chapters: [])
        }
        #expect(try await store.summaries().map(\.title) == ["Three"])
    }

    @Test(arguments: Kind.allCases)
    func attemptsStartOnceAndOnlyTheCurrentOneCompletes(_ kind: Kind) async throws {
        let stores = try await Stores.make(kind)
        defer { Task { await stores.remove() } }
        let store = stores.books
        let id = try await store.createBook(title: "Four", metadata: Self.metadata("Four"), pages: Self.pages(4)).id!
        let keys = (1...4).map { PageKey(book: id, page: $0) }
        let inputs = try await store.startAttempts(keys.map { ($0, "worker-1") })
        #expect(inputs.map { $0?.attempts } == [1, 1, 1, 1])
        #expect(inputs[0]?.text == "Page 1 says hello.")
        #expect(inputs[0]?.totalPages == 4)
        #expect(inputs[0]?.language == "english")
        // Already processing: not started again.
        #expect(try await store.startAttempts([(keys[0], "worker-2")]).map { $0 == nil } == [true])
        #expect(try await store.status(book: id).pagesStatus.processing == 4)
        #expect(try await store.pageStatus(keys[0]) == "processing")
        // Unless its coordinator retakes it (a start whose answer was lost), as a new attempt;
        // a pending page is started as ever.
        let retaken = try await store.startAttempts([(keys[3], "worker-2")], retaking: [keys[3]])
        #expect(retaken.map { $0?.attempts } == [2])
        #expect(try await store.status(book: id).pagesStatus.processing == 4)

        // A stale attempt number changes nothing; the current one is recorded.
        let applied = try await store.complete([
            Self.completion(keys[0], attempt: 2, path: "a"), Self.completion(keys[1], attempt: 1, path: "b"),
            Self.completion(keys[2], attempt: 1, path: nil),
        ])
        #expect(applied == [false, true, true])
        // A duplicate answer for a page already completed is refused too.
        #expect(try await store.complete([Self.completion(keys[1], attempt: 1, path: "c")]) == [false])
        let status = try await store.status(book: id)
        #expect(status.pagesStatus.completed == 2)
        #expect(status.pagesWithAudio == 1)
        #expect(try await store.audioPath(keys[1]) == "b")
        #expect(try await store.audioPaths(book: id) == nil)
        let page = try await store.pages(book: id, offset: 1, limit: 1).pages[0]
        #expect(page.segments?.first?.end == 2.5)
        #expect(page.engine == "espeak-ng")
        #expect(page.audioDuration == 3)

        _ = try await store.complete([
            Self.completion(keys[0], attempt: 1, path: "a"), Self.completion(keys[3], attempt: 2, path: "d"),
        ])
        let done = try await store.status(book: id)
        #expect(done.audioReady)
        #expect(done.processingStatus == .completed)
        #expect(try await store.audioPaths(book: id)?.map(\.path) == ["a", "b", "d"])
        #expect(try await store.totalDuration(book: id) == 7.5)
    }

    @Test(arguments: Kind.allCases)
    func endedAttemptsFollowThePolicyAndFailedPagesCanBeRetried(_ kind: Kind) async throws {
        let stores = try await Stores.make(kind)
        defer { Task { await stores.remove() } }
        let store = stores.books
        let id = try await store.createBook(
            title: "Two", metadata: Self.metadata("Two"), pages: Self.pages(3, unreadable: [3])
        ).id!
        let key = PageKey(book: id, page: 1)
        _ = try await store.startAttempts([(key, "w")])
        // Lost: the attempt is given back, the loss counted.
        var outcome = try await store.endAttempt(
            key, attempt: 1, error: "gone", ending: .lost, policy: Self.policy)
        #expect(outcome.verdict == .requeue(after: .zero))
        #expect(outcome.losses == 1)
        #expect(try await store.pageStatus(key) == "pending")
        #expect(try await store.startAttempts([(key, "w")]).first??.attempts == 1)
        // A stale ending changes nothing.
        outcome = try await store.endAttempt(key, attempt: 7, error: "late", ending: .failed, policy: Self.policy)
        #expect(outcome.verdict == nil)
        // Failed twice: failed for good, with the reason.
        _ = try await store.endAttempt(key, attempt: 1, error: "bad", ending: .failed, policy: Self.policy)
        #expect(try await store.startAttempts([(key, "w")]).first??.attempts == 2)
        outcome = try await store.endAttempt(key, attempt: 2, error: "bad again", ending: .failed, policy: Self.policy)
        #expect(outcome.verdict == .fail("bad again"))
        let pages = try await store.pages(book: id, offset: 0, limit: 3).pages
        #expect(pages[0].error == "bad again")
        #expect(try await store.status(book: id).pagesStatus.failed == 2)

        // Retry brings back the failed page with a text, not the unreadable one.
        #expect(try await store.requeueFailed(book: id) == [key])
        #expect(try await store.pageStatus(key) == "pending")
        #expect(try await store.pageStatus(PageKey(book: id, page: 3)) == "failed")
        #expect(try await store.startAttempts([(key, "w")]).first??.attempts == 1)
        await #expect(throws: LectorError.notFound(book: id + 100)) { try await store.requeueFailed(book: id + 100) }
    }

    @Test(arguments: Kind.allCases)
    func aRestartRequeuesJobsInHandAndCountsCrashedRenders(_ kind: Kind) async throws {
        let stores = try await Stores.make(kind)
        defer { Task { await stores.remove() } }
        let store = stores.books
        let first = try await store.createBook(title: "A", metadata: Self.metadata("A"), pages: Self.pages(3)).id!
        let second = try await store.createBook(title: "B", metadata: Self.metadata("B"), pages: Self.pages(1)).id!
        let out = [PageKey(book: first, page: 1), PageKey(book: first, page: 2)]
        _ = try await store.startAttempts(out.map { ($0, "w") })
        try await store.setRendering(out[1], true)
        var recovery = try await store.recoverPendingJobs(maxLosses: 2)
        #expect(recovery.failed.isEmpty)
        #expect(
            recovery.pending == [
                PageKey(book: first, page: 1), PageKey(book: first, page: 2), PageKey(book: first, page: 3),
                PageKey(book: second, page: 1),
            ])
        #expect(try await store.status(book: first).pagesStatus.pending == 3)
        // The attempt was given back: the next start is attempt 1 again.
        #expect(try await store.startAttempts([(out[0], "w")]).first??.attempts == 1)
        // A page that crashed the renderer twice fails.
        _ = try await store.startAttempts([(out[1], "w")])
        try await store.setRendering(out[1], true)
        recovery = try await store.recoverPendingJobs(maxLosses: 2)
        #expect(recovery.failed == [out[1]])
        #expect(try await store.pageStatus(out[1]) == "failed")
        #expect(!recovery.pending.contains(out[1]))
    }

    @Test(arguments: Kind.allCases)
    func placesEpochsNeedsAndDeletion(_ kind: Kind) async throws {
        let stores = try await Stores.make(kind)
        defer { Task { await stores.remove() } }
        let store = stores.books
        let epoch = try await store.nextEpoch()
        #expect(try await store.nextEpoch() == epoch + 1)

        var metadata = Self.metadata("P")
        metadata.quality = "Fast"
        let id = try await store.createBook(title: "P", metadata: metadata, pages: Self.pages(2)).id!
        let key = PageKey(book: id, page: 1)
        #expect(try await store.voiceNeeds([key]) == [key: .any])
        let never = try await store.position(book: id)
        #expect(never.page == 1 && never.seconds == 0 && never.updatedAt == nil)
        _ = try await store.startAttempts([(key, "w")])
        _ = try await store.complete([Self.completion(key, attempt: 1, path: "x", seconds: 10)])
        let saved = try await store.savePosition(book: id, page: 1, seconds: 4.5)
        #expect(try await store.position(book: id).seconds == saved.seconds)
        #expect(try await store.position(book: id).updatedAt != nil)
        await #expect(throws: LectorError.self) { _ = try await store.savePosition(book: id, page: 3, seconds: 0) }
        await #expect(throws: LectorError.self) { _ = try await store.savePosition(book: id, page: 1, seconds: 12) }
        await #expect(throws: LectorError.notFound(book: id + 1)) { _ = try await store.position(book: id + 1) }

        try await store.deleteBook(id)
        #expect(try await !store.bookExists(id))
        #expect(try await store.summaries().isEmpty)
        await #expect(throws: LectorError.notFound(book: id)) { try await store.deleteBook(id) }
        await #expect(throws: LectorError.notFound(book: id)) { _ = try await store.status(book: id) }
        await #expect(throws: LectorError.notFound(book: id)) {
            _ = try await store.pages(book: id, offset: 0, limit: 1)
        }
    }

    @Test(arguments: Kind.allCases)
    func audioIsStoredAndReadByRangeAcrossChunks(_ kind: Kind) async throws {
        let stores = try await Stores.make(kind)
        defer { Task { await stores.remove() } }
        let id = try await stores.books.createBook(title: "S", metadata: Self.metadata("S"), pages: Self.pages(1)).id!
        var generator = SystemRandomNumberGenerator()
        // Longer than two database chunks (256 KiB), not a multiple of one.
        let bytes = Data((0..<(600 << 10)).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let pending = try stores.audio.beginWrite(book: id, page: 1)
        try pending.append(bytes.prefix(100_000))
        try pending.append(bytes.dropFirst(100_000))
        try pending.finish()
        let reference = try await stores.audio.commit(pending)
        #expect(!FileManager.default.fileExists(atPath: pending.temporary.path))
        for (offset, length) in [(0, 10), (262_140, 10), (100, 600 << 10), (600 << 10, 5), (614_000, 1000)] {
            let slice = try await stores.audio.slice(reference, offset: offset, length: length)
            #expect(slice.totalBytes == bytes.count)
            let start = min(offset, bytes.count)
            #expect(slice.data == bytes.subdata(in: start..<min(start + length, bytes.count)))
        }
        let file = try await stores.audio.localFile(reference)
        #expect(try Data(contentsOf: file) == bytes)
        await stores.audio.remove(reference)
        await #expect(throws: (any Error).self) { _ = try await stores.audio.slice(reference, offset: 0, length: 1) }
    }

    /// A blob whose commit landed after its caller gave up on it (no page points at it) goes
    /// with the page's next commit, not only at the next start.
    @Test func anAbandonedBlobGoesWithThePagesNextCommit() async throws {
        let stores = try await Stores.make(.postgres)
        defer { Task { await stores.remove() } }
        let id = try await stores.books.createBook(title: "A", metadata: Self.metadata("A"), pages: Self.pages(2)).id!
        func commit(_ page: Int, _ text: String) async throws -> String {
            let pending = try stores.audio.beginWrite(book: id, page: page)
            try pending.append(Data(text.utf8))
            try pending.finish()
            return try await stores.audio.commit(pending)
        }
        let abandoned = try await commit(1, "first attempt")
        let otherPage = try await commit(2, "another page")
        let kept = try await commit(1, "second attempt")
        #expect(try await stores.audio.slice(kept, offset: 0, length: 100).data == Data("second attempt".utf8))
        await #expect(throws: (any Error).self) { _ = try await stores.audio.slice(abandoned, offset: 0, length: 1) }
        // Another page's blob, not yet pointed at either, is not this page's to clear.
        #expect(try await stores.audio.slice(otherPage, offset: 0, length: 100).data == Data("another page".utf8))
    }

    /// A book with pages to OCR keeps its PDF until they are done; with PostgreSQL the
    /// coordinator that takes the book over (another machine's folder) finds it too.
    @Test(arguments: Kind.allCases)
    func aKeptPDFIsFoundUntilItIsDropped(_ kind: Kind) async throws {
        let stores = try await Stores.make(kind)
        defer { Task { await stores.remove() } }
        let id = try await stores.books.createBook(title: "P", metadata: Self.metadata("P"), pages: Self.pages(1)).id!
        let bytes = Data("%PDF-1.4 the kept upload".utf8)
        let spooled = stores.folder.appendingPathComponent("spooled.pdf")
        try bytes.write(to: spooled)
        try await stores.audio.keepSource(spooled, book: id)
        let kept = try #require(try await stores.audio.sourceFile(book: id))
        #expect(try Data(contentsOf: kept) == bytes)
        if let postgres = stores.postgres {
            let elsewhere = stores.folder.appendingPathComponent("other-coordinator").path
            let other = PostgresAudioStore(books: postgres, localDirectory: elsewhere)
            let fetched = try #require(try await other.sourceFile(book: id))
            #expect(fetched.path.hasPrefix(elsewhere))
            #expect(try Data(contentsOf: fetched) == bytes)
        }
        await stores.audio.dropSource(book: id)
        #expect(try await stores.audio.sourceFile(book: id) == nil)
        if let postgres = stores.postgres {
            let third = PostgresAudioStore(
                books: postgres, localDirectory: stores.folder.appendingPathComponent("third").path)
            #expect(try await third.sourceFile(book: id) == nil, "the database's copy goes too")
        }
    }

    /// A completion the coordinator took for failed (the connection dropped at its commit) may
    /// still have been recorded: removing its audio then leaves the audio the page points at.
    @Test func audioAPageRecordsIsNeverRemoved() async throws {
        let stores = try await Stores.make(.postgres)
        defer { Task { await stores.remove() } }
        let (id, reference) = try await Self.bookWithAudio("recorded audio", in: stores)
        let key = PageKey(book: id, page: 1)
        _ = try await stores.books.startAttempts([(key, "w")])
        #expect(try await stores.books.complete([Self.completion(key, attempt: 1, path: reference)]) == [true])
        await stores.audio.remove(reference)
        #expect(try await stores.audio.slice(reference, offset: 0, length: 100).data == Data("recorded audio".utf8))
    }

    @Test func aDeletedBooksCachedAudioLeavesTheCoordinatorsDisk() async throws {
        let stores = try await Stores.make(.postgres)
        defer { Task { await stores.remove() } }
        let (id, reference) = try await Self.bookWithAudio("cached page", in: stores)
        let file = try await stores.audio.localFile(reference)
        #expect(FileManager.default.fileExists(atPath: file.path))
        await stores.audio.removeBook(id)
        #expect(!FileManager.default.fileExists(atPath: file.path))
    }

    @Test func databaseAudioThatNoPageRecordedIsSweptAndTheRestKept() async throws {
        let stores = try await Stores.make(.postgres)
        defer { Task { await stores.remove() } }
        let id = try await stores.books.createBook(title: "O", metadata: Self.metadata("O"), pages: Self.pages(2)).id!
        var references: [String] = []
        for page in 1...2 {
            let pending = try Self.written(Data("audio of page \(page)".utf8), book: id, page: page, in: stores.audio)
            references.append(try await stores.audio.commit(pending))
        }
        let keys = [PageKey(book: id, page: 1), PageKey(book: id, page: 2)]
        _ = try await stores.books.startAttempts(keys.map { ($0, "w") })
        #expect(try await stores.books.complete([Self.completion(keys[0], attempt: 1, path: references[0])]) == [true])
        // Page 2's audio was committed but never recorded (the coordinator died in between).
        #expect(try await stores.audio.removeOrphans() == 1)
        #expect(
            try await stores.audio.slice(references[0], offset: 0, length: 100).data == Data("audio of page 1".utf8))
        await #expect(throws: (any Error).self) {
            _ = try await stores.audio.slice(references[1], offset: 0, length: 1)
        }
        // Deleting the book takes its audio rows with it.
        try await stores.books.deleteBook(id)
        let client = try #require(stores.postgres).client
        let rows = try await client.query("SELECT COUNT(*) FROM audio_chunk")
        var left = -1
        for try await count in rows.decode(Int.self) { left = count }
        #expect(left == 0)
    }

    @Test func theLeaseHasOneHolderAtATimeAndPassesOnOnlyWhenItExpires() async throws {
        let stores = try await Stores.make(.postgres)
        defer { Task { await stores.remove() } }
        let store = try #require(stores.postgres)
        #expect(try await store.leaseHolder() == nil)
        // Leases of seconds: the steps before the expiry must fit in them on a loaded machine.
        let first = try #require(try await store.acquireLease(holder: "coordinator-a", duration: .seconds(3)))
        #expect(try await store.acquireLease(holder: "coordinator-b", duration: .seconds(5)) == nil)
        #expect(try await store.renewLease(holder: "coordinator-a", epoch: first, duration: .seconds(3)))
        #expect(try await !store.renewLease(holder: "coordinator-b", epoch: first, duration: .seconds(5)))
        #expect(try await store.leaseHolder()?.holder == "coordinator-a")
        try await Task.sleep(for: .milliseconds(3300))
        // Expired: the next asker gets it under a later epoch, and the old holder cannot renew.
        let second = try #require(try await store.acquireLease(holder: "coordinator-b", duration: .seconds(5)))
        #expect(second == first + 1)
        #expect(try await !store.renewLease(holder: "coordinator-a", epoch: first, duration: .seconds(5)))
        #expect(try await store.leaseHolder()?.epoch == second)
    }

    /// An outage is answered 503 (try again), a wrong request is not hidden behind one: the errors
    /// here are the ones PostgreSQL and postgres-nio really give.
    @Test func theStoreTellsADatabaseOutageFromAFailedRequest() async throws {
        let store = try PostgresBookStore(
            url: try await PostgresServer.shared.freshDatabase(), logger: Logger(label: "test"))
        try await store.prepare()
        func failure(_ body: @escaping @Sendable (PostgresConnection) async throws -> Void) async -> (any Error)? {
            do {
                try await store.transaction(body)
                return nil
            } catch {
                return error
            }
        }
        let missingTable = await failure {
            _ = try await $0.query("SELECT * FROM no_such_table", logger: Logger(label: "t"))
        }
        #expect(missingTable.map(store.isOutage) == false, "\(String(describing: missingTable))")
        let ownSessionEnded = await failure {
            _ = try await $0.query("SELECT pg_terminate_backend(pg_backend_pid())", logger: Logger(label: "t"))
        }
        #expect(ownSessionEnded.map(store.isOutage) == true, "\(String(describing: ownSessionEnded))")
        #expect(store.isOutage(DatabaseTimeout(limit: .seconds(30))))
        #expect(!store.isOutage(LectorError.notFound(book: 1)))
        // The database still answers after all that.
        #expect(try await store.summaries().isEmpty)

        await store.close()
        do {
            _ = try await store.summaries()
            Issue.record("a closed store answered")
        } catch {
            #expect(store.isOutage(error), "\(error)")
        }
    }

    @Test func aDeposedCoordinatorsWritesAreRefusedByTheDatabase() async throws {
        let url = try await PostgresServer.shared.freshDatabase()
        let logger = Logger(label: "test.store")
        let old = try PostgresBookStore(url: url, logger: logger)
        let new = try PostgresBookStore(url: url, logger: logger)
        defer {
            Task {
                await old.close()
                await new.close()
            }
        }
        try await old.prepare()
        let lease: Duration = .seconds(4)
        let granted = ContinuousClock.now
        let oldEpoch = try #require(try await old.acquireLease(holder: "old", duration: lease))
        old.fenceWrites(LeaseFence(holder: "old", epoch: oldEpoch))
        let id = try await old.createBook(title: "F", metadata: Self.metadata("F"), pages: Self.pages(2)).id!
        let key = PageKey(book: id, page: 1)
        #expect(try await old.startAttempts([(key, "w")]).first??.attempts == 1)

        // The old coordinator stops (SIGSTOP, a cut link) past its lease; another takes over.
        try await Task.sleep(until: granted + lease + .milliseconds(300))
        let newEpoch = try #require(try await new.acquireLease(holder: "new", duration: .seconds(10)))
        new.fenceWrites(LeaseFence(holder: "new", epoch: newEpoch))

        // Everything the old one writes now is refused, and changes nothing.
        await #expect(throws: CoordinatorDeposed.self) {
            _ = try await old.complete([Self.completion(key, attempt: 1, path: "stale")])
        }
        await #expect(throws: CoordinatorDeposed.self) {
            _ = try await old.startAttempts([(PageKey(book: id, page: 2), "w")])
        }
        await #expect(throws: CoordinatorDeposed.self) { try await old.deleteBook(id) }
        let audio = PostgresAudioStore(
            books: old,
            localDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("fence-\(UUID())").path)
        let pending = try Self.written(Data("late audio".utf8), book: id, page: 1, in: audio)
        await #expect(throws: CoordinatorDeposed.self) { _ = try await audio.commit(pending) }
        #expect(try await new.pageStatus(key) == "processing")
        #expect(try await new.pageStatus(PageKey(book: id, page: 2)) == "pending")
        // The new one recovers the page and completes it.
        #expect(try await new.recoverPendingJobs(maxLosses: 3).pending.count == 2)
        #expect(try await new.startAttempts([(key, "w2")]).first??.attempts == 1)
        #expect(try await new.complete([Self.completion(key, attempt: 1, path: "fresh")]) == [true])
        #expect(try await new.audioPath(key) == "fresh")
    }
}
