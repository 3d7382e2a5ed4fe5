import CEspeakNG
import Dispatch
import Foundation
import Synchronization

/// Text to PCM with espeak-ng.
///
/// espeak-ng keeps global state (one voice, one callback per process) and takes no lock: two
/// threads synthesising at once crash or, worse, silently mix their audio. So every call in the
/// process goes through this one serial queue, off Swift's cooperative pool.
public final class SpeechSynthesizer: Sendable {
    public static let shared = SpeechSynthesizer()

    private let queue = DispatchQueue(label: "lector.espeak-ng")
    /// 0 until espeak-ng is initialised; only written on `queue`.
    private let sampleRate = Mutex<Int>(0)

    private init() {}

    public func synthesize(_ text: String, voice: String) async throws -> PCMAudio {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.synthesizeOnQueue(text, voice: voice) })
            }
        }
    }

    public func hasVoice(_ name: String) async -> Bool {
        await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: (try? self.select(voice: name)) != nil)
            }
        }
    }

    private func initializeOnQueue() throws -> Int {
        if let rate = sampleRate.withLock({ $0 == 0 ? nil : $0 }) { return rate }
        let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nil, 0)
        guard rate > 0 else { throw SpeechError.initializationFailed }
        espeak_SetSynthCallback(collectSamples)
        sampleRate.withLock { $0 = Int(rate) }
        return Int(rate)
    }

    private func select(voice: String) throws {
        _ = try initializeOnQueue()
        guard espeak_SetVoiceByName(voice) == EE_OK else { throw SpeechError.unknownVoice(voice) }
    }

    private func synthesizeOnQueue(_ text: String, voice: String) throws -> PCMAudio {
        let rate = try initializeOnQueue()
        try select(voice: voice)
        let sink = SampleSink()
        let retained = Unmanaged.passRetained(sink)
        defer { retained.release() }
        let status = text.withCString { pointer in
            espeak_Synth(
                pointer, strlen(pointer) + 1, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil,
                retained.toOpaque())
        }
        guard status == EE_OK else {
            throw SpeechError.synthesisFailed("espeak_Synth returned \(status.rawValue)")
        }
        guard espeak_Synchronize() == EE_OK else {
            throw SpeechError.synthesisFailed("espeak_Synchronize failed")
        }
        return PCMAudio(samples: sink.samples, sampleRate: rate)
    }
}

/// Where the callback puts samples; used only on the synthesizer's queue.
private final class SampleSink {
    var samples: [Int16] = []
}

/// espeak-ng's synthesis callback: a plain C function, handed the sink through `user_data`.
private func collectSamples(
    _ wav: UnsafeMutablePointer<Int16>?, _ count: Int32, _ events: UnsafeMutablePointer<espeak_EVENT>?
) -> Int32 {
    guard let events, let user = events.pointee.user_data else { return 0 }
    let sink = Unmanaged<SampleSink>.fromOpaque(user).takeUnretainedValue()
    if let wav, count > 0 {
        sink.samples.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count)))
    }
    return 0
}
