import AsyncHTTPClient
import Coordinator
import Foundation
import NIOCore
import PageWorker

/// The natural voice against espeak-ng: what each costs per second of audio, how intelligible
/// each is to an offline recogniser, and the natural-voice pipeline against a plain loop of the
/// same C API, with the time until a listener can press play.
struct VoiceBench {
    var lector: URL
    var fixtures: URL
    var intelligibilityScript: URL
    var concurrency = 2

    func run() async throws -> Figures {
        guard let voices = PiperEngine.defaultDirectory(),
            let piper = PiperEngine(directory: voices, espeakData: PiperEngine.espeakData)
        else { throw BenchError("no natural voice: run `make deps` (it prepares .deps/voices)") }
        let english = fixtures.appendingPathComponent("english-8p.pdf")
        let texts = try SynthesisLoop.texts(of: english)
        var figures: Figures = [:]

        // Cost per second of audio, and the audio itself for the recogniser: page 1, each engine.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bench-voices-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let sentences = Sentences.split(texts[0]).map { VoiceChoice.prepare($0.text) }.filter(VoiceChoice.isSpeakable)
        var labels: [String] = []
        for (engine, voice) in [(EspeakEngine() as any SpeechEngine, "en"), (piper, "joe")] {
            let cpu = Self.cpuSeconds()
            let pcm = try await engine.synthesize(sentences: sentences, voice: voice, deadline: nil)
            let spent = Self.cpuSeconds() - cpu
            let audio = PCMAudio(samples: pcm.flatMap(\.samples), sampleRate: pcm.first?.sampleRate ?? 22_050)
            figures["\(engine.name)_cpu_s_per_audio_s"] = spent / audio.duration
            figures["\(engine.name)_page_audio_s"] = audio.duration
            let file = folder.appendingPathComponent("\(engine.name).mp3")
            try await MP3Encoder.encode(audio).write(to: file)
            labels.append("\(engine.name)=\(file.path)")
        }
        figures["piper_cost_over_espeak"] =
            (figures["piper_cpu_s_per_audio_s"] as! Double) / (figures["espeak-ng_cpu_s_per_audio_s"] as! Double)

        // Intelligibility: the same page through each engine, transcribed by pocketsphinx.
        let reference = folder.appendingPathComponent("reference.txt")
        try texts[0].write(to: reference, atomically: true, encoding: .utf8)
        let wer = try Self.intelligibility(
            script: intelligibilityScript, reference: reference, labels: labels)
        for (engine, result) in wer {
            figures["\(engine)_wer"] = result
        }

        // The natural-voice pipeline as `make run` runs it, against the plain loop.
        let cluster = try await DevCluster(
            lector: lector, workers: 2, concurrency: concurrency, voices: voices.path)
        do {
            // Warm-up on a one-sentence page: voices loaded, connections open.
            _ = try await cluster.follow(
                try await cluster.upload(PDFWriter.pdf(pages: ["A short page to warm up."]), title: "warm"))
            let pdf = try Data(contentsOf: english)
            let started = ContinuousClock.now
            let book = try await cluster.upload(pdf, title: "natural")
            let base = cluster.base
            let firstByte = Task { try await Self.firstAudioByte(base: base, book: book) }
            let (firstPage, done) = try await cluster.follow(book)
            let firstPlayable = try await firstByte.value
            let pages = try await cluster.get("/api/books/\(book)/pages/") as? [String: Any]
            let engines = ((pages?["pages"] as? [[String: Any]]) ?? []).compactMap { $0["engine"] as? String }
            guard engines.count == texts.count, engines.allSatisfy({ $0 == "piper" }) else {
                throw BenchError("the natural pipeline voiced its pages with \(engines), not piper throughout")
            }
            figures["first_playable_s"] = (firstPlayable - started).seconds
            figures["first_page_s"] = ((firstPage ?? done) - started).seconds
            figures["audio_ready_s"] = (done - started).seconds
        } catch {
            cluster.stop()
            throw error
        }
        cluster.stop()
        let loop = try SynthesisLoop.run(texts: texts, processes: 2, engine: "piper")
        figures["plain_loop_s"] = loop
        figures["ratio"] = (figures["audio_ready_s"] as! Double) / loop

        print("Voices (english-8p; page 1 for cost and intelligibility):")
        print("engine      CPU s / audio s   WER (pocketsphinx)")
        for engine in ["espeak-ng", "piper"] {
            print(
                engine.padding(toLength: 12, withPad: " ", startingAt: 0)
                    + format(figures["\(engine)_cpu_s_per_audio_s"] as! Double, 4).padding(
                        toLength: 18, withPad: " ", startingAt: 0)
                    + format((figures["\(engine)_wer"] as? Double) ?? .nan, 3))
        }
        print(
            "natural pipeline: first playable \(format(figures["first_playable_s"] as! Double, 2)) s, first page \(format(figures["first_page_s"] as! Double, 2)) s, audio ready \(format(figures["audio_ready_s"] as! Double, 2)) s; plain loop \(format(loop, 2)) s; ratio \(format(figures["ratio"] as! Double, 3))"
        )
        return figures
    }

    /// This process's CPU time (user + system), all threads.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
            + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }

    /// When the first byte of page 1's audio reached a listener who asked for it from the upload
    /// on (404 while the page waits; then its audio as it is made).
    static func firstAudioByte(base: String, book: Int) async throws -> ContinuousClock.Instant {
        let deadline = ContinuousClock.now + .seconds(300)
        while ContinuousClock.now < deadline {
            let response = try await HTTPClient.shared.execute(
                HTTPClientRequest(url: "\(base)/media/books/\(book)/page_0001.mp3"), timeout: .seconds(300))
            if response.status == .ok {
                for try await chunk in response.body where chunk.readableBytes > 0 { return .now }
            } else {
                _ = try await response.body.collect(upTo: 1 << 16)
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        throw BenchError("page 1's audio never became playable")
    }

    /// WER per label from `Benchmarks/intelligibility.py`.
    static func intelligibility(script: URL, reference: URL, labels: [String]) throws -> [String: Double] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [script.path, "--reference", reference.path] + labels.flatMap { ["--label", $0] }
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
            let results = json["results"] as? [String: [String: Any]]
        else { throw BenchError("the intelligibility script failed (is pocketsphinx installed?)") }
        return results.compactMapValues { $0["wer"] as? Double }
    }
}
