import Foundation
import Testing

/// The natural voice through real processes: a worker with Piper's joe (prepared in `.deps/` by
/// `make deps`) voices English pages with it by default, `quality=fast` gets espeak-ng, and
/// `/api/voices/` lists both engines. The pages are a few sentences: joe costs ~0.15 CPU-seconds
/// per second of audio.
@Suite("Natural voices end to end", .serialized)
struct NaturalVoiceEndToEndTests {
    typealias Cluster = FaultToleranceTests.Cluster

    static let voices = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../.deps/voices").standardized.path

    static func upload(_ cluster: Cluster, query: String) async throws -> Int {
        let pdf = HostileInputTests.pdf(
            pages: 2, text: "The natural voice reads this page aloud. It has two sentences.")
        let reply = try await HTTP.send(
            .POST, "\(cluster.base)/api/books/upload/?title=voices\(query)",
            headers: [("Content-Type", "application/pdf")], body: pdf)
        guard reply.status == 200, let id = (reply.json["data"] as? [String: Any])?["book_id"] as? Int else {
            throw TestFailure("upload failed: \(reply.status) \(reply.json)")
        }
        return id
    }

    @Test func englishPagesGetTheNaturalVoiceUnlessFastIsAsked() async throws {
        let files = try TestClusterFiles(workers: 1)
        try await files.makeCertificates()
        let coordinator = try files.start("coordinator", node: "coordinator")
        let worker = try files.start("worker", node: "worker-1", environment: ["LECTOR_VOICES": Self.voices])
        let gateway = try files.start("gateway", node: "gateway")
        let cluster = Cluster(files: files, coordinator: coordinator, workers: ["worker-1": worker], gateway: gateway)
        defer { Task { await cluster.stop() } }
        _ = try await HTTP.waitFor("\(files.baseURL)/api/voices/") { json in
            ((json["data"] as? [[String: Any]]) ?? []).contains { $0["name"] as? String == "joe" }
        }
        let listing = try await HTTP.json("\(cluster.base)/api/voices/").json["data"] as? [[String: Any]] ?? []
        let joe = try #require(listing.first)
        #expect(joe["name"] as? String == "joe")
        #expect(joe["engine"] as? String == "piper")
        #expect(joe["language"] as? String == "en")
        #expect(joe["quality"] as? String == "natural")
        #expect(joe["workers"] as? Int == 1)
        #expect(joe["sample_rate"] as? Int == 22_050)
        #expect(listing.contains { $0["name"] as? String == "hi" && $0["engine"] as? String == "espeak-ng" })

        let natural = try await Self.upload(cluster, query: "")
        let fast = try await Self.upload(cluster, query: "&quality=fast")
        for (book, engine, voice) in [(natural, "piper", "joe"), (fast, "espeak-ng", "en")] {
            #expect(
                try await cluster.settle(book, timeout: .seconds(240))["processing_status"] as? String == "completed")
            for page in try await BookPipelineTests.pagesOf(cluster.base, book) {
                #expect(page["engine"] as? String == engine)
                #expect(page["voice"] as? String == voice)
                let duration = try #require(page["audio_duration"] as? Int)
                let url = try #require(page["audio_url"] as? String)
                let mp3 = try await HTTP.get("\(cluster.base)\(url)")
                let probed = try TextAndAudioTests.probe(mp3.body)
                #expect(abs(probed.duration - Double(duration)) <= 1, "\(probed.duration) vs \(duration)")
                let text = try #require(page["text_content"] as? String)
                let segments = try #require(page["segments"] as? [[String: Any]])
                #expect(segments.count == 2)
                var lastEnd = 0.0
                for segment in segments {
                    let start = try #require(segment["start"] as? Double)
                    let end = try #require(segment["end"] as? Double)
                    #expect(start >= lastEnd - 1e-6 && end > start && end <= probed.duration + 0.5)
                    lastEnd = end
                }
                let spoken = segments.map { segment -> String in
                    let utf16 = Array(text.utf16)
                    let offset = segment["text_offset"] as? Int ?? 0
                    let length = segment["text_length"] as? Int ?? 0
                    return String(decoding: utf16[offset..<offset + length], as: UTF16.self)
                }
                #expect(spoken == ["The natural voice reads this page aloud.", "It has two sentences."])
            }
        }
        // The first bytes of a page's MP3 say how long it is.
        let page = try #require(try await BookPipelineTests.pagesOf(cluster.base, natural).first)
        let head = try await HTTP.get(
            "\(cluster.base)\(try #require(page["audio_url"] as? String))", headers: [("Range", "bytes=0-4095")])
        #expect(head.status == 206)
        let partial = try TextAndAudioTests.probe(head.body)
        #expect(abs(partial.duration - Double(page["audio_duration"] as? Int ?? 0)) <= 1)

        let refused = try await HTTP.send(
            .POST, "\(cluster.base)/api/books/upload/?quality=best", headers: [("Content-Type", "application/pdf")],
            body: HostileInputTests.pdf())
        #expect(refused.status == 400)
        #expect((refused.json["error"] as? [String: Any])?["code"] as? String == "invalid_quality")
    }
}
