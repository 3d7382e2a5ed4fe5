import Foundation
import LectorTestSupport

/// Page jobs through the coordinator to two worker processes that answer at once (the benchmark's
/// own `noop-worker`s): what the coordinator, its store's writes and the actor calls can dispatch,
/// with nothing else in the way. Run on SQLite, then on PostgreSQL (a server started for the run).
struct DispatchBench {
    var lector: URL
    var pages: Int
    var concurrency: Int

    func run() async throws -> Figures {
        var figures = try await measure(store: nil)
        let postgres = try await measure(store: try await PostgresServer.shared.freshDatabase())
        let ratio = (postgres["jobs_per_s"] as! Double) / (figures["jobs_per_s"] as! Double)
        print("Job dispatch on PostgreSQL / on SQLite: \(format(ratio, 2))")
        figures["postgres"] = postgres
        figures["postgres_to_sqlite_ratio"] = ratio
        return figures
    }

    private func measure(store: String?) async throws -> Figures {
        let cluster = try await DevCluster(
            lector: lector, workers: 2, concurrency: concurrency, noopWorkerCount: 2, store: store)
        defer { cluster.stop() }
        let pdf = PDFWriter.pdf(pages: (1...pages).map { "Page \($0) of the dispatch benchmark." })
        // A small book first, so connections and the database are warm.
        let warm = try await cluster.upload(
            PDFWriter.pdf(pages: Array(repeating: "Warm up.", count: 50)), title: "warm")
        _ = try await cluster.follow(warm)

        let book = try await cluster.upload(pdf, title: "dispatch")
        let started = ContinuousClock.now
        let done = try await cluster.follow(book).done
        let elapsed = (done - started).seconds
        let rate = Double(pages) / elapsed
        print(
            "Job dispatch (\(store == nil ? "SQLite" : "PostgreSQL")): \(pages) no-op jobs, 2 worker processes × \(concurrency): \(format(elapsed, 2)) s, \(format(rate)) jobs/s"
        )
        return [
            "jobs_per_s": rate, "jobs": pages, "seconds": elapsed, "worker_processes": 2,
            "concurrency_per_worker": concurrency,
            "celery_redis_reference_jobs_per_s": 700, "ratio_to_celery_reference": rate / 700,
        ]
    }
}
