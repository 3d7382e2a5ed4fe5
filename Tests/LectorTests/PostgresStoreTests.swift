import Foundation
import LectorTestSupport
import Logging
import NIOCore
import PostgresNIO
import Testing

@testable import Coordinator
@testable import lector

/// A cluster whose coordinator keeps books and audio in PostgreSQL (a real server started for
/// the tests), with real `lector` processes: the book is voiced, served from the database and
/// survives `kill -9` of the coordinator, a restart of the database and its sessions being ended.
@Suite("PostgreSQL store with real processes", .serialized)
struct PostgresStoreTests {
    typealias Cluster = FaultToleranceTests.Cluster

    /// Rows of one query on the test's database, each as its columns' text.
    static func rows(_ url: String, _ sql: String) async throws -> [[String?]] {
        let configuration = try PostgresURL.configuration(url)
        let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test.pg"))
        return try await withThrowingTaskGroup(of: [[String?]]?.self) { group in
            group.addTask {
                await client.run()
                return nil
            }
            defer { group.cancelAll() }
            var result: [[String?]] = []
            for try await row in try await client.query(PostgresQuery(unsafeSQL: sql)) {
                result.append(row.map { cell in cell.bytes.map { String(buffer: $0) } })
            }
            return result
        }
    }

    /// Every page with audio points at exactly one stored blob, and no blob is left over.
    static func checkOneAudioPerPage(_ url: String, book: Int, expectedPages: Int) async throws {
        let referenced = try await rows(
            url,
            """
            SELECT COUNT(*)::text, COUNT(DISTINCT audio_path)::text FROM page
            WHERE book_id = \(book) AND audio_path IS NOT NULL
            """)
        #expect(referenced.first == ["\(expectedPages)", "\(expectedPages)"])
        let blobs = try await rows(
            url, "SELECT COUNT(*)::text FROM audio_blob WHERE book_id = \(book) AND page_number > 0")
        #expect(blobs.first?.first == "\(expectedPages)", "blobs beyond one per page: \(blobs)")
    }

    @Test func aBookIsVoicedIntoPostgresAndSurvivesKillingTheCoordinatorAndRestartingTheDatabase() async throws {
        let url = try await PostgresServer.shared.freshDatabase()
        var cluster = try await Cluster.start(workers: 2, extra: "store:\n  postgres: \"\(url)\"")
        // Nodes are up before the coordinator has prepared its database and registered.
        _ = try await HTTP.waitFor("\(cluster.base)/api/books/", timeout: .seconds(30)) { _ in true }
        let book = try await cluster.upload("english-40p")
        try await cluster.waitForCompleted(book, atLeast: 3)
        await cluster.coordinator.kill9()
        cluster.coordinator = try cluster.files.start("coordinator", node: "coordinator")
        _ = try await HTTP.waitFor("\(cluster.base)/api/books/", timeout: .seconds(20)) { _ in true }
        try await cluster.waitForCompleted(book, atLeast: 12)

        // The database goes away mid-book and comes back: the coordinator reconnects by itself.
        let before = try await cluster.completedPages(book)
        #expect(before < 39, "the database restart must come mid-book")
        try await PostgresServer.shared.stopImmediately()
        try await Task.sleep(for: .seconds(2))
        try await PostgresServer.shared.restart()

        let status = try await cluster.settle(book, timeout: .seconds(180))
        let log = cluster.coordinator.output
        #expect(log.contains("[RECOVERY]"), "the restarted coordinator recovered the book's jobs")
        #expect(
            status["processing_status"] as? String == "completed",
            "\(status)\n\(cluster.coordinator.output.suffix(4000))")
        #expect((status["pages_status"] as? [String: Any])?["failed"] as? Int == 0)
        // english-40p's last page is blank: 39 pages of audio.
        #expect(try await cluster.reportedAudio(book) == (1...39).map { String(format: "page_%04d.mp3", $0) })
        try await Self.checkOneAudioPerPage(url, book: book, expectedPages: 39)
        // No page audio on the coordinator's disk: it is all in the database.
        #expect(cluster.audioFiles(book).filter { $0.hasSuffix(".mp3") }.isEmpty)

        // Served from the database, by range: an MP3 whose length is the blob's.
        let whole = try await HTTP.get("\(cluster.base)/media/books/\(book)/page_0002.mp3")
        #expect(whole.status == 200)
        let size = try await Self.rows(
            url,
            """
            SELECT b.total_bytes::text FROM audio_blob b JOIN page p ON p.audio_path = 'pg:' || b.id
            WHERE p.book_id = \(book) AND p.page_number = 2
            """)
        #expect(size.first?.first == String(whole.body.count))
        #expect(whole.body.prefix(3) == Data("ID3".utf8) || whole.body.first == 0xFF)
        let range = try await HTTP.get(
            "\(cluster.base)/media/books/\(book)/page_0002.mp3", headers: [("Range", "bytes=100-299")])
        #expect(range.status == 206)
        #expect(range.body == whole.body.subdata(in: 100..<300))
        let joined = try await HTTP.get("\(cluster.base)/api/books/\(book)/audio/", timeout: .seconds(60))
        #expect(joined.status == 200)
        #expect(joined.body.count > whole.body.count * 20)
        await cluster.stop()
    }

    /// PostgreSQL ends the coordinator's sessions under it (an administrator, a failover, a
    /// backend crash): its pool reconnects, writes that failed are tried again, a write its ended
    /// session left waiting is given up after `PostgresBookStore.transactionLimit` (without it, a
    /// page stayed `processing` for good in about one run in three), and the book ends with every
    /// page voiced once.
    @Test func theCoordinatorsDatabaseSessionsAreEndedMidBookAndTheBookStillCompletes() async throws {
        let url = try await PostgresServer.shared.freshDatabase()
        let cluster = try await Cluster.start(workers: 2, extra: "store:\n  postgres: \"\(url)\"")
        _ = try await HTTP.waitFor("\(cluster.base)/api/books/", timeout: .seconds(30)) { _ in true }
        let book = try await cluster.upload("english-40p")
        try await cluster.waitForCompleted(book, atLeast: 3)
        #expect(try await cluster.completedPages(book) < 30, "the sessions must end mid-book")

        // Every session on the book's database but this query's own, 15 times over about 2 s.
        var ended = 0
        for _ in 0..<15 {
            let rows = try await Self.rows(
                url,
                """
                SELECT pg_terminate_backend(pid)::text FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()
                """)
            ended += rows.filter { $0.first == "true" }.count
            try await Task.sleep(for: .milliseconds(150))
        }
        #expect(ended >= 5, "the coordinator's sessions were ended (\(ended))")

        let status = try await cluster.settle(book, timeout: .seconds(120))
        // What went wrong, if anything did: the coordinator's complaints, not its page-by-page log.
        let complaints = cluster.coordinator.output.split(separator: "\n").filter {
            $0.contains("error") || $0.contains("warning")
        }.suffix(40).joined(separator: "\n")
        #expect(status["processing_status"] as? String == "completed", "\(status)\n\(complaints)")
        #expect((status["pages_status"] as? [String: Any])?["failed"] as? Int == 0)
        #expect(try await cluster.reportedAudio(book) == (1...39).map { String(format: "page_%04d.mp3", $0) })
        try await Self.checkOneAudioPerPage(url, book: book, expectedPages: 39)
        let stuck = try await Self.rows(
            url,
            """
            SELECT page_number::text, processing_status FROM page
            WHERE book_id = \(book) AND processing_status <> 'completed'
            """)
        let stuckLines = stuck.compactMap { $0.first ?? nil }.flatMap { page in
            cluster.coordinator.output.split(separator: "\n").filter {
                $0.contains("Page \(page) ") || $0.contains("Page \(page),") || $0.contains("page \(page):")
            }
        }.joined(separator: "\n")
        #expect(stuck.isEmpty, "pages not completed: \(stuck)\n\(stuckLines)\n\(complaints)")
        await cluster.stop()
    }
}
