import AsyncHTTPClient
import Foundation

/// A generated 1000-page book: the coordinator's peak memory, `status/` latency while the book is
/// processed, and text extraction time per page.
struct ScaleBench {
    var lector: URL
    var pages: Int

    func run() async throws -> Figures {
        let cluster = try await DevCluster(lector: lector, workers: 2, concurrency: 2)
        defer { cluster.stop() }
        let sentence = "This is a generated page of the scale benchmark, short enough to be voiced in a moment."
        let pdf = PDFWriter.pdf(pages: (1...pages).map { "Page \($0). " + sentence })

        // Streamed upload: processing_started to completed is the extraction.
        var request = HTTPClientRequest(url: cluster.base + "/api/books/upload/?stream=true&title=scale")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/pdf")
        request.body = .bytes(.init(bytes: pdf))
        let response = try await HTTPClient.shared.execute(request, timeout: .minutes(10))
        var extractionStarted: ContinuousClock.Instant?
        var extractionDone: ContinuousClock.Instant?
        var book = 0
        var pending = ""
        for try await chunk in response.body {
            pending += String(buffer: chunk)
            while let end = pending.range(of: "\n\n") {
                let block = String(pending[..<end.lowerBound])
                pending = String(pending[end.upperBound...])
                if block.contains("event: processing_started") { extractionStarted = .now }
                if block.contains("event: completed") {
                    extractionDone = .now
                    let json =
                        block.split(separator: "\n").first { $0.hasPrefix("data: ") }.map { $0.dropFirst(6) } ?? ""
                    book =
                        (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["book_id"] as? Int
                        ?? 0
                }
            }
        }
        guard book > 0, let extractionStarted, let extractionDone else { throw BenchError("the scale upload failed") }
        let extractionMsPerPage = (extractionDone - extractionStarted).milliseconds / Double(pages)

        // status/ every 50 ms while the book is voiced.
        let base = cluster.base
        let following = Task { try await DevCluster.follow(book, base: base) }
        var latencies: [Double] = []
        var finished = false
        while !finished {
            let started = ContinuousClock.now
            let status = try await cluster.get("/api/books/\(book)/status/") as? [String: Any] ?? [:]
            latencies.append((ContinuousClock.now - started).milliseconds)
            let state = status["processing_status"] as? String
            finished = state == "completed" || state == "failed"
            if !finished { try await Task.sleep(for: .milliseconds(50)) }
        }
        let done = try await following.value.done
        let voicing = (done - extractionDone).seconds
        var peakKB = 0.0
        if let pid = cluster.coordinatorPID(),
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        {
            peakKB = Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        let rssMB = peakKB / 1024
        print(
            "Scale: \(pages) pages — coordinator peak RSS \(format(rssMB, 1)) MB, status/ p50 \(format(latencies.percentile(0.5), 2)) ms p99 \(format(latencies.percentile(0.99), 2)) ms (\(latencies.count) requests), extraction \(format(extractionMsPerPage, 3)) ms/page, voiced in \(format(voicing, 1)) s"
        )
        return [
            "pages": pages, "coordinator_rss_mb": rssMB, "coordinator_rss_goal_mb": 150,
            "status_p50_ms": latencies.percentile(0.5), "status_p99_ms": latencies.percentile(0.99),
            "status_requests": latencies.count, "extraction_ms_per_page": extractionMsPerPage, "voicing_s": voicing,
        ]
    }
}
