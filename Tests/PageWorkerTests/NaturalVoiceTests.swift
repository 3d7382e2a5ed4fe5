import ClusterTransport
import Coordinator
import Foundation
import Logging
import Testing

@testable import PageWorker

/// Sentences and their timings, the MP3's Info header, and the natural voice (sherpa-onnx running
/// Piper's joe, from `.deps/`, as `make deps` prepares it).
@Suite("Sentences, timings and the natural voice", .serialized)
struct NaturalVoiceTests {
    static let voices = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../.deps/voices").standardized

    static func job(_ text: String, voice: String? = nil, quality: String? = nil) -> PageJob {
        var job = PageJob(
            bookId: 1, pageNumber: 1, totalPages: 1, attempt: 1, lease: UUID(), text: text, voice: voice,
            language: nil)
        job.quality = quality
        job.leaseSeconds = 300
        return job
    }

    @Test func sentencesKeepTheirPlaceInTheText() {
        let text = "First one. Second — with “quotes.” Third?\n\nA heading\nनमस्ते दुनिया। फिर मिलेंगे।"
        let sentences = Sentences.split(text)
        #expect(
            sentences.map(\.text) == [
                "First one.", "Second — with “quotes.”", "Third?", "A heading\nनमस्ते दुनिया।", "फिर मिलेंगे।",
            ])
        let utf16 = Array(text.utf16)
        for sentence in sentences {
            let slice = String(
                decoding: utf16[sentence.utf16Offset..<sentence.utf16Offset + sentence.utf16Length], as: UTF16.self)
            #expect(slice == sentence.text)
        }
        // A text without full stops is cut at spaces, never over the limit.
        let long = String(repeating: "word ", count: 1000)
        let pieces = Sentences.split(long)
        #expect(pieces.count > 1)
        #expect(pieces.allSatisfy { $0.utf16Length <= Sentences.maximumUTF16 })
        #expect(pieces.map(\.text).joined(separator: " ") == long.trimmingCharacters(in: .whitespaces))
    }

    /// A player that reads only the start of the file knows the page's whole duration.
    @Test func theStartOfAnMP3TellsItsDuration() async throws {
        let pcm = try await SpeechSynthesizer.shared.synthesize(
            String(repeating: "A sentence that takes a while to say out loud. ", count: 12), voice: "en")
        let mp3 = try await MP3Encoder.encode(pcm)
        #expect(mp3.range(of: Data("Info".utf8), in: 0..<64) != nil)
        let whole = try #require(try probe(mp3))
        #expect(abs(whole.duration - pcm.duration) < 0.2, "\(whole.duration) vs \(pcm.duration)")
        let start = try #require(try probe(mp3.prefix(4096)))
        #expect(abs(start.duration - pcm.duration) < 0.2, "from 4 KB: \(start.duration) vs \(pcm.duration)")
    }

    @Test func thePiperVoiceSpeaksEnglish() async throws {
        let engine = try #require(
            PiperEngine(directory: Self.voices, espeakData: PiperEngine.espeakData), "run `make deps` first")
        #expect(engine.voices.map(\.name) == ["joe"])
        #expect(engine.voices.first?.quality == "natural")
        let pcm = try await engine.synthesize("Hello, this is a natural voice.", voice: "joe", deadline: nil)
        #expect(pcm.sampleRate == 22_050)
        #expect(pcm.duration > 1 && pcm.duration < 5, "\(pcm.duration)")
        #expect(pcm.samples.contains { abs(Int($0)) > 1000 })
        await #expect(throws: SpeechError.self) {
            _ = try await engine.synthesize("Hi.", voice: "nobody", deadline: nil)
        }
    }

    static func system() async throws -> ClusterSystem {
        try await WorkerLimitsTests.system()
    }

    /// Both engines: one MP3 at the voice's rate, its duration reported, and sentence timings that
    /// are ordered, inside the audio and cover the text.
    @Test func bothEnginesVoiceAPageWithSentenceTimings() async throws {
        let system = try await Self.system()
        let piper = try #require(PiperEngine(directory: Self.voices, espeakData: PiperEngine.espeakData))
        let worker = PageWorker(actorSystem: system, concurrency: 1, logger: Logger(label: "test"), piper: piper)
        let text = "The first sentence is short. The second one is a little longer than the first.\nAnd a third."
        for (quality, engine, voice) in [(nil, "piper", "joe"), ("fast", "espeak-ng", "en")]
            as [(String?, String, String)]
        {
            let job = Self.job(text, quality: quality)
            let result = try await worker.synthesize(job)
            #expect(result.engine == engine)
            #expect(result.voice == voice)
            #expect(result.language == "en")
            let mp3 = try await worker.audioPiece(lease: job.lease, offset: 0, length: result.audioBytes).data
            let probed = try #require(try probe(mp3))
            #expect(probed.sampleRate == 22_050)
            #expect(
                abs(probed.duration - result.durationSeconds) < 1, "\(probed.duration) vs \(result.durationSeconds)")
            let segments = try #require(result.segments)
            #expect(segments.count == 3)
            #expect(AudioSegment.areValid(segments, duration: result.durationSeconds, textUTF16: text.utf16.count))
            #expect(segments.first?.start == 0)
            #expect(abs((segments.last?.end ?? 0) - result.durationSeconds) < 0.01)
            let covered = segments.reduce(0) { $0 + $1.textLength }
            #expect(covered == text.utf16.count - 2, "all but the two separators")
        }
        // Naming an espeak-ng voice gets it, natural quality or not.
        let named = try await worker.synthesize(Self.job(text, voice: "en-us"))
        #expect(named.engine == "espeak-ng")
        #expect(named.voice == "en-us")
        #expect(
            try await worker.voices().first
                == VoiceInfo(
                    name: "joe", engine: "piper", language: "en", quality: "natural", sampleRate: 22_050))
        await system.shutdown()
    }

    /// A worker without the natural voice speaks espeak-ng, even when the upload names `joe`.
    @Test func aWorkerWithoutTheNaturalVoiceSpeaksEspeak() async throws {
        let system = try await Self.system()
        let worker = PageWorker(actorSystem: system, concurrency: 1, logger: Logger(label: "test"))
        let result = try await worker.synthesize(Self.job("A page to read.", voice: "joe"))
        #expect(result.engine == "espeak-ng")
        #expect(result.voice == "en")
        #expect(try await worker.voices().allSatisfy { $0.engine == "espeak-ng" })
        #expect(PiperEngine(directory: URL(fileURLWithPath: "/nonexistent"), espeakData: PiperEngine.espeakData) == nil)
        await system.shutdown()
    }
}

/// A doubtful Devanagari text layer is checked against OCR of the same page on the worker: OCR's
/// text replaces it only when it reads clearly more dictionary words.
@Suite("Text layer checked against OCR")
struct TextLayerComparisonTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../LectorTests/Fixtures").standardized

    static func run(textLayer: String, worker: PageWorker, image: Data) async throws -> PageResult {
        var job = PageJob(
            bookId: 1, pageNumber: 2, totalPages: 8, attempt: 1, lease: UUID(), text: textLayer, voice: nil,
            language: nil)
        job.checkWithOCR = true
        job.quality = "fast"
        job.leaseSeconds = 300
        job.imageBytes = image.count
        try await worker.stageImage(lease: job.lease, offset: 0, chunk: image)
        return try await worker.synthesize(job)
    }

    @Test func ocrReplacesALayerOfNonWordsAndKeepsAGoodOne() async throws {
        let scan = try PDFTextDocument.open(contentsOf: Self.fixtures.appendingPathComponent("scanned-hindi-1p.pdf"))
        let image = try scan.render(page: 1).png
        let truth = try DevanagariRepair.repair(
            PDFTextDocument.open(contentsOf: Self.fixtures.appendingPathComponent("hindi-8p.pdf")).text(ofPage: 2))
        // A wrong font map: every consonant one further along, well formed and hardly a word.
        let garbled = String(
            String.UnicodeScalarView(
                truth.unicodeScalars.map { scalar in
                    (0x0915...0x0938).contains(scalar.value) ? Unicode.Scalar(scalar.value + 1)! : scalar
                }))
        let system = try await WorkerLimitsTests.system()
        let worker = PageWorker(actorSystem: system, concurrency: 1, logger: Logger(label: "test"))
        let replaced = try await Self.run(textLayer: garbled, worker: worker, image: image)
        #expect(replaced.textSource == "ocr")
        #expect(replaced.voice == "hi")
        let read = try #require(replaced.text)
        let dictionary = try #require(DevanagariDictionary.hindi)
        #expect((dictionary.share(read) ?? 0) > (dictionary.share(garbled) ?? 1) + 0.3)
        let kept = try await Self.run(textLayer: truth, worker: worker, image: image)
        #expect(kept.textSource == "pdf")
        #expect(kept.text == nil)
        await system.shutdown()
    }
}
