import CSherpaOnnx
import Coordinator
import Foundation
import Synchronization

/// Piper's neural voices, run in-process by sherpa-onnx's C API (`make deps` prepares them in
/// `.deps/voices`). About 0.15 CPU-seconds per second of audio, a hundred times espeak-ng's.
///
/// sherpa-onnx's engine is not documented as thread-safe, and one generation already keeps a core
/// busy: calls go through one serial queue, like espeak-ng's.
public final class PiperEngine: SpeechEngine, Sendable {
    public let name = "piper"
    public let voices: [VoiceInfo]
    /// Natural voices Lector knows of, installed here or not, and their languages.
    public static let knownVoices: [String: String] = ["joe": "en"]

    private let queue = DispatchQueue(label: "lector.piper")
    private struct Handle: @unchecked Sendable {  // used only on `queue`
        let pointer: OpaquePointer
    }
    private let engines: [String: Handle]

    /// Loads every prepared voice under `directory` (one folder per voice: `model.onnx`,
    /// `tokens.txt`, `voice.json`); nil when there is none, so the worker speaks espeak-ng only.
    public init?(directory: URL, espeakData: String) {
        let folders =
            (try? FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)) ?? []
        var engines: [String: Handle] = [:]
        var voices: [VoiceInfo] = []
        for folder in folders.sorted(by: { $0.path < $1.path }) {
            let model = folder.appendingPathComponent("model.onnx").path
            let tokens = folder.appendingPathComponent("tokens.txt").path
            guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent("voice.json").path),
                let info = try? JSONDecoder().decode(PreparedVoice.self, from: data),
                FileManager.default.fileExists(atPath: model), FileManager.default.fileExists(atPath: tokens),
                let pointer = Self.load(model: model, tokens: tokens, espeakData: espeakData)
            else { continue }
            let rate = Int(SherpaOnnxOfflineTtsSampleRate(pointer))
            engines[info.name] = Handle(pointer: pointer)
            voices.append(
                VoiceInfo(
                    name: info.name, engine: "piper", language: info.language, quality: "natural", sampleRate: rate))
        }
        guard !engines.isEmpty else { return nil }
        self.engines = engines
        self.voices = voices
    }

    private struct PreparedVoice: Decodable {
        var name: String
        var language: String
    }

    private static func load(model: String, tokens: String, espeakData: String) -> OpaquePointer? {
        model.withCString { model in
            tokens.withCString { tokens in
                espeakData.withCString { data in
                    "cpu".withCString { provider in
                        var config = SherpaOnnxOfflineTtsConfig()
                        config.model.vits.model = model
                        config.model.vits.tokens = tokens
                        config.model.vits.data_dir = data
                        config.model.vits.noise_scale = 0.667
                        config.model.vits.noise_scale_w = 0.8
                        config.model.vits.length_scale = 1
                        config.model.num_threads = 1
                        config.model.provider = provider
                        config.max_num_sentences = 1
                        return SherpaOnnxCreateOfflineTts(&config)
                    }
                }
            }
        }
    }

    deinit {
        for handle in engines.values {
            SherpaOnnxDestroyOfflineTts(handle.pointer)
        }
    }

    /// The longest text handed to sherpa-onnx at once; pages are voiced sentence by sentence.
    static let maximumBytes = 8_192

    public func synthesize(_ text: String, voice: String, deadline: ContinuousClock.Instant?) async throws
        -> PCMAudio
    {
        guard let engine = engines[voice] else { throw SpeechError.unknownVoice(voice) }
        guard text.utf8.count <= Self.maximumBytes else {
            throw SpeechError.synthesisFailed("a sentence of \(text.utf8.count) bytes is over \(Self.maximumBytes)")
        }
        return try await CancellationFlag.whileRunning { flag in
            try await withCheckedThrowingContinuation { continuation in
                queue.async {
                    continuation.resume(
                        with: Result { try Self.generate(text, engine: engine, deadline: deadline, flag: flag) })
                }
            }
        }
    }

    private static func generate(
        _ text: String, engine: Handle, deadline: ContinuousClock.Instant?, flag: CancellationFlag
    ) throws(SpeechError) -> PCMAudio {
        if let deadline, ContinuousClock.now >= deadline { throw .abandoned }
        let stop = PiperStop(deadline: deadline, flag: flag)
        var generation = SherpaOnnxGenerationConfig()
        generation.speed = 1
        generation.sid = 0
        generation.silence_scale = 0.2
        let audio = withExtendedLifetime(stop) {
            text.withCString { text in
                SherpaOnnxOfflineTtsGenerateWithConfig(
                    engine.pointer, text, &generation, piperProgress,
                    Unmanaged.passUnretained(stop).toOpaque())
            }
        }
        guard let audio else { throw .synthesisFailed("sherpa-onnx returned no audio") }
        defer { SherpaOnnxDestroyOfflineTtsGeneratedAudio(audio) }
        if stop.stopped { throw .abandoned }
        let count = Int(audio.pointee.n)
        guard count >= 0, count <= 4 * 3600 * Int(max(audio.pointee.sample_rate, 1)) else {
            throw .synthesisFailed("sherpa-onnx returned \(count) samples")
        }
        var samples = [Int16](repeating: 0, count: count)
        if count > 0, let source = audio.pointee.samples {
            for index in 0..<count {
                let value = source[index]
                let clamped = value.isFinite ? min(max(value, -1), 1) : 0
                samples[index] = Int16(clamped * 32_767)
            }
        }
        return PCMAudio(samples: samples, sampleRate: Int(audio.pointee.sample_rate))
    }
}

/// Asked between the model's chunks whether the job is past its deadline or cancelled; only
/// touched on the engine's queue while one generation runs.
private final class PiperStop {
    let deadline: ContinuousClock.Instant?
    let flag: CancellationFlag
    var stopped = false

    init(deadline: ContinuousClock.Instant?, flag: CancellationFlag) {
        self.deadline = deadline
        self.flag = flag
    }

    func shouldStop() -> Bool {
        if flag.isCancelled || (deadline.map { ContinuousClock.now >= $0 } ?? false) { stopped = true }
        return stopped
    }
}

/// sherpa-onnx's progress callback: returning 0 stops the generation.
private func piperProgress(
    _ samples: UnsafePointer<Float>?, _ count: Int32, _ progress: Float, _ argument: UnsafeMutableRawPointer?
) -> Int32 {
    guard let argument else { return 1 }
    return Unmanaged<PiperStop>.fromOpaque(argument).takeUnretainedValue().shouldStop() ? 0 : 1
}

extension PiperEngine {
    /// Where `make deps` put the voices: `$LECTOR_VOICES` (`none` for no natural voice), else the
    /// `.deps/voices` of the checkout the running binary was built in.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let configured = environment["LECTOR_VOICES"], !configured.isEmpty {
            return configured == "none" ? nil : URL(fileURLWithPath: configured)
        }
        // The binary itself, wherever it was started from (argv[0] may be a bare name on PATH).
        let binary =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: binary).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = folder.appendingPathComponent(".deps/voices")
            if FileManager.default.fileExists(atPath: candidate.path) { return candidate }
            folder.deleteLastPathComponent()
        }
        return nil
    }

    /// Debian's espeak-ng data, which Piper's phonemizer reads.
    public static let espeakData = "/usr/lib/x86_64-linux-gnu/espeak-ng-data"
}
