import Coordinator
import Foundation
import PageWorker

/// The physical limit the pipeline is held against: the same pages synthesised and encoded in a
/// plain loop, no cluster, no network, one process per core.
enum SynthesisLoop {
    /// The texts the coordinator would send: poppler's text, repaired.
    static func texts(of pdf: URL) throws -> [String] {
        let document = try PDFTextDocument.open(contentsOf: pdf)
        return try (1...document.pageCount).map { DevanagariRepair.repair(try document.text(ofPage: $0)) }
    }

    /// Runs `processes` copies of this program, each voicing every `processes`-th page; returns
    /// the wall time until the last one is done.
    static func run(texts: [String], processes: Int, engine: String = "espeak-ng") throws -> Double {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("loop-\(UUID().uuidString).json")
        try JSONEncoder().encode(texts).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let started = ContinuousClock.now
        let children = try (0..<processes).map { part in
            let process = Process()
            process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            process.arguments = [
                "synthesis-loop", file.path, "--part", "\(part)", "--of", "\(processes)", "--engine", engine,
            ]
            try process.run()
            return process
        }
        for child in children {
            child.waitUntilExit()
            guard child.terminationStatus == 0 else { throw BenchError("a synthesis loop process failed") }
        }
        return (ContinuousClock.now - started).seconds
    }

    /// One loop process: its share of the pages, one after the other, as a worker voices them.
    static func voice(_ texts: [String], part: Int, of parts: Int, engine: String) async throws {
        if engine == "piper" {
            guard let voices = PiperEngine.defaultDirectory(),
                let piper = PiperEngine(directory: voices, espeakData: PiperEngine.espeakData)
            else { throw BenchError("no natural voice for the loop") }
            // The same C API the worker calls, sentence by sentence, then one encode per page.
            for index in stride(from: part, to: texts.count, by: parts) {
                let sentences = Sentences.split(texts[index]).map { VoiceChoice.prepare($0.text) }
                    .filter(VoiceChoice.isSpeakable)
                let pcm = try await piper.synthesize(sentences: sentences, voice: "joe", deadline: nil)
                _ = try await MP3Encoder.encode(
                    PCMAudio(samples: pcm.flatMap(\.samples), sampleRate: pcm.first?.sampleRate ?? 22_050))
            }
            return
        }
        for index in stride(from: part, to: texts.count, by: parts) {
            let job = PageJob(
                bookId: 0, pageNumber: index + 1, totalPages: texts.count, attempt: 1, lease: UUID(),
                text: texts[index], voice: nil, language: nil)
            let text = VoiceChoice.prepare(job.text)
            guard VoiceChoice.isSpeakable(text) else { continue }
            let pcm = try await SpeechSynthesizer.shared.synthesize(text, voice: VoiceChoice.voice(for: job))
            _ = try await MP3Encoder.encode(pcm)
        }
    }
}
