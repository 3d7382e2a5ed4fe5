import Foundation

/// Upload → `audio_ready` on a `make run` cluster (2 worker processes), against the plain loop.
struct PipelineBench {
    var lector: URL
    var fixtures: URL
    /// Jobs each worker process takes at once (`make run` uses 2).
    var concurrency = 2

    func run() async throws -> Figures {
        let english = fixtures.appendingPathComponent("english-8p.pdf")
        let texts = try SynthesisLoop.texts(of: english)
        // 64 pages: the English sample's eight pages, eight times over.
        let long = FileManager.default.temporaryDirectory.appendingPathComponent("bench-64p-\(UUID().uuidString).pdf")
        try PDFWriter.pdf(pages: (0..<8).flatMap { _ in texts }).write(to: long)
        defer { try? FileManager.default.removeItem(at: long) }
        let books = [
            ("english_8p", english), ("hindi_8p", fixtures.appendingPathComponent("hindi-8p.pdf")),
            ("english_64p", long),
        ]

        let cluster = try await DevCluster(lector: lector, workers: 2, concurrency: concurrency)
        var figures: Figures = [:]
        var rows: [String] = []
        do {
            // Warm-up: voices loaded, connections open.
            _ = try await cluster.follow(try await cluster.upload(try Data(contentsOf: books[0].1), title: "warm"))
            for (name, url) in books {
                let pdf = try Data(contentsOf: url)
                let started = ContinuousClock.now
                let book = try await cluster.upload(pdf, title: name)
                let uploaded = ContinuousClock.now
                let (first, done) = try await cluster.follow(book)
                figures[name] = [
                    "upload_s": (uploaded - started).seconds, "first_audio_s": ((first ?? done) - started).seconds,
                    "audio_ready_s": (done - started).seconds,
                ]
            }
        } catch {
            cluster.stop()
            throw error
        }
        cluster.stop()

        // The same pages in the plain loop, after the cluster is gone.
        for (name, url) in books {
            let loop = try SynthesisLoop.run(texts: try SynthesisLoop.texts(of: url), processes: 2)
            var entry = figures[name] as! [String: Double]
            entry["plain_loop_s"] = loop
            entry["ratio"] = entry["audio_ready_s"]! / loop
            figures[name] = entry
            rows.append(
                "\(name.padding(toLength: 13, withPad: " ", startingAt: 0)) \(format(entry["upload_s"]! * 1000).padding(toLength: 10, withPad: " ", startingAt: 0)) \(format(entry["first_audio_s"]!, 2).padding(toLength: 12, withPad: " ", startingAt: 0)) \(format(entry["audio_ready_s"]!, 2).padding(toLength: 13, withPad: " ", startingAt: 0)) \(format(loop, 2).padding(toLength: 11, withPad: " ", startingAt: 0)) \(format(entry["ratio"]!, 3))"
            )
        }
        print("Pipeline (2 worker processes × \(concurrency); plain loop = 2 processes, no cluster):")
        print("book          upload ms  first audio  audio ready  plain loop  ratio")
        rows.forEach { print($0) }
        figures["ratio"] = (figures["english_8p"] as! [String: Double])["ratio"]!
        return figures
    }
}
