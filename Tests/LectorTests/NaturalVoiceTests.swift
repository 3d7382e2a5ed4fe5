import AsyncHTTPClient
import Foundation
import NIOCore
import Testing

@testable import lector

/// The natural voice through real processes: a worker with Piper's joe (prepared in `.deps/` by
/// `make deps`) voices English pages with it by default, `quality=fast` gets espeak-ng, and
/// `/api/voices/` lists both engines. The pages are a few sentences: joe costs ~0.15 CPU-seconds
/// per second of audio.
@Suite("Natural voices end to end", .serialized)
struct NaturalVoiceEndToEndTests {
    typealias Cluster = FaultToleranceTests.Cluster

    static let voices = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../.deps/voices").standardized.path

    static func upload(
        _ cluster: Cluster, query: String, pages: Int = 2,
        text: String = "The natural voice reads this page aloud. It has two sentences.", lines: [String]? = nil
    ) async throws -> Int {
        let pdf = HostileInputTests.pdf(pages: pages, text: text, lines: lines)
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

    /// Two workers, only one with the natural voice: natural pages all go to it; and a page's
    /// audio can be played while it is being voiced, the stream's bytes being the final file's.
    @Test func naturalPagesGoWhereTheVoiceIsAndAPageIsHeardWhileItIsVoiced() async throws {
        let files = try TestClusterFiles(workers: 2)
        try await files.makeCertificates()
        let coordinator = try files.start("coordinator", node: "coordinator")
        let natural = try files.start("worker", node: "worker-1", environment: ["LECTOR_VOICES": Self.voices])
        let plain = try files.start("worker", node: "worker-2", environment: ["LECTOR_VOICES": "none"])
        let gateway = try files.start("gateway", node: "gateway")
        let cluster = Cluster(
            files: files, coordinator: coordinator, workers: ["worker-1": natural, "worker-2": plain], gateway: gateway)
        defer { Task { await cluster.stop() } }
        _ = try await HTTP.waitFor("\(files.baseURL)/api/voices/") { json in
            let voices = (json["data"] as? [[String: Any]]) ?? []
            return voices.contains { $0["name"] as? String == "joe" && $0["workers"] as? Int == 1 }
                && voices.contains { $0["name"] as? String == "en" && $0["workers"] as? Int == 2 }
        }

        // A page of a dozen sentences: joe takes several seconds of CPU over it, espeak-ng a moment.
        let sentences = (1...12).map { "This is sentence number \($0) of the page, read aloud while the rest is made." }
        let long = try await Self.upload(
            cluster, query: "&title=long", pages: 1, lines: sentences)
        var page: [String: Any] = [:]
        let waitUntil = ContinuousClock.now + .seconds(60)
        repeat {
            page = try await BookPipelineTests.pagesOf(cluster.base, long).first ?? [:]
            try await Task.sleep(for: .milliseconds(20))
        } while page["processing_status"] as? String == "pending" && ContinuousClock.now < waitUntil
        #expect(page["processing_status"] as? String == "processing")
        let url = "\(cluster.base)/media/books/\(long)/page_0001.mp3"

        // Read the audio as it comes, noting the page's status when the first bytes arrived.
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(240))
        #expect(response.status.code == 200)
        #expect(response.headers["Cache-Control"].first == "no-store")
        #expect(response.headers["Content-Length"].isEmpty)
        var streamed = Data()
        var statusAtFirstBytes: String?
        for try await chunk in response.body {
            if streamed.isEmpty {
                statusAtFirstBytes =
                    try await BookPipelineTests.pagesOf(cluster.base, long).first?["processing_status"] as? String
            }
            streamed.append(contentsOf: chunk.readableBytesView)
        }
        #expect(statusAtFirstBytes == "processing")
        #expect(try await cluster.settle(long, timeout: .seconds(240))["processing_status"] as? String == "completed")
        page = try #require(try await BookPipelineTests.pagesOf(cluster.base, long).first)
        #expect(page["engine"] as? String == "piper")
        let final = try await HTTP.get(url)
        #expect(final.status == 200)
        #expect(streamed.count == final.body.count)
        #expect(streamed == final.body, "the streamed audio differs from the page's file")
        let probed = try TextAndAudioTests.probe(streamed)
        #expect(abs(probed.duration - Double(page["audio_duration"] as? Int ?? 0)) <= 1)
        #expect((page["segments"] as? [[String: Any]])?.count == 12)
        // Routing: every natural page went to the worker with joe, though the other was idle.
        let book = try await Self.upload(cluster, query: "", pages: 6)
        let events = Task {
            try await UserFacingTests.events("\(cluster.base)/api/books/\(book)/events/") { events in
                events.contains { $0.name == "book_completed" }
            }.map { ($0.name, $0.json["page_number"] as? Int, $0.json["audio_url"] as? String) }
        }
        let fast = try await Self.upload(cluster, query: "&quality=fast", pages: 6)
        for (id, engines) in [(book, ["piper"]), (fast, ["espeak-ng"])] {
            #expect(try await cluster.settle(id, timeout: .seconds(240))["processing_status"] as? String == "completed")
            let pages = try await BookPipelineTests.pagesOf(cluster.base, id)
            #expect(pages.count == 6)
            #expect(
                pages.allSatisfy { engines.contains($0["engine"] as? String ?? "") }, "\(pages.map { $0["engine"] })")
        }
        // A Hindi book at the default quality: no natural Hindi voice, so espeak-ng on either worker.
        let hindi = try await HTTP.send(
            .POST, "\(cluster.base)/api/books/upload/?title=hindi",
            headers: [("Content-Type", "application/pdf")],
            body: try Data(contentsOf: FaultToleranceTests.fixtures.appendingPathComponent("hindi-8p.pdf")))
        let hindiBook = try #require(hindi.data?["book_id"] as? Int)
        #expect(
            try await cluster.settle(hindiBook, timeout: .seconds(240))["processing_status"] as? String == "completed")
        let hindiPages = try await BookPipelineTests.pagesOf(cluster.base, hindiBook)
        #expect(hindiPages.count == 8)
        #expect(hindiPages.allSatisfy { $0["engine"] as? String == "espeak-ng" && $0["voice"] as? String == "hi" })
        #expect(!plain.output.contains("with piper"), "the worker without the natural voice voiced with piper")
        #expect(plain.output.contains("with espeak-ng"))  // it did take the fast pages
        #expect(natural.output.contains("with piper (voice joe)"))
        // page_processing says where to listen while the page is made.
        let processing = try await events.value.filter { $0.0 == "page_processing" }
        #expect(!processing.isEmpty)
        #expect(
            processing.allSatisfy { name, page, url in
                url == String(format: "/media/books/\(book)/page_%04d.mp3", page ?? 0)
            }, "\(processing)")
    }
}
