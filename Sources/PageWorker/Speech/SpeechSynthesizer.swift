import CEspeakNG
import Dispatch
import Foundation
import Synchronization

/// Text to PCM with espeak-ng.
///
/// espeak-ng keeps global state and takes no lock: every call in the process goes through this
/// one serial queue. Two threads synthesising at once crash or, worse, silently swap or mix their
/// audio, and the voice and callback are process-wide settings. The queue is a Dispatch queue, not
/// an actor, because a synthesis blocks its thread for up to a second, which would starve Swift's
/// cooperative pool (two threads on a two-core machine).
public final class SpeechSynthesizer: Sendable {
    public static let shared = SpeechSynthesizer()

    private let queue = DispatchQueue(label: "lector.espeak-ng")
    /// espeak-ng's initialisation, done once on `queue`; kept in a Mutex only to make the class
    /// Sendable, as it is only read and written on `queue`.
    private let engine = Mutex<Engine>(.notStarted)

    private enum Engine {
        case notStarted
        case ready(sampleRate: Int)
        case failed
    }

    private init() {}

    /// Speaks `text` with espeak-ng's voice `voice` ("en", "hi", "mr", …) into 16-bit mono PCM.
    /// Text with nothing to say (empty or whitespace) gives zero samples, which callers treat as
    /// "no audio" rather than an error.
    ///
    /// Past `deadline` the synthesis stops (espeak-ng's callback asks it to) and throws
    /// `.abandoned`: the job's lease is over, so nobody waits for the audio any more.
    public func synthesize(_ text: String, voice: String, deadline: ContinuousClock.Instant? = nil) async throws
        -> PCMAudio
    {
        // Cancelling the calling task (its caller gave up) stops the synthesis too.
        try await CancellationFlag.whileRunning { flag in
            try await withCheckedThrowingContinuation { continuation in
                queue.async {
                    continuation.resume(
                        with: Result { try self.synthesizeOnQueue(text, voice: voice, deadline: deadline, flag: flag) })
                }
            }
        }
    }

    /// A page's sentences, one PCM each, in one turn of the queue with the voice chosen once:
    /// choosing a voice reloads its files, which per sentence cost more than the speech.
    public func synthesize(sentences: [String], voice: String, deadline: ContinuousClock.Instant? = nil)
        async throws -> [PCMAudio]
    {
        try await CancellationFlag.whileRunning { flag in
            try await withCheckedThrowingContinuation { continuation in
                queue.async {
                    continuation.resume(
                        with: Result {
                            var audio: [PCMAudio] = []
                            audio.reserveCapacity(sentences.count)
                            var total = 0
                            for (index, sentence) in sentences.enumerated() {
                                let pcm = try self.synthesizeOnQueue(
                                    sentence, voice: voice, deadline: deadline, flag: flag, selectVoice: index == 0)
                                // The page as a whole is bounded, not only each sentence.
                                total += pcm.samples.count
                                if total > pcm.sampleRate * Self.maxSeconds {
                                    throw SpeechError.synthesisFailed(
                                        "the page speaks for more than \(Self.maxSeconds / 3600) hours")
                                }
                                audio.append(pcm)
                            }
                            return audio
                        })
                }
            }
        }
    }

    /// Whether espeak-ng has a voice by this name; false also when espeak-ng cannot start.
    public func hasVoice(_ name: String) async -> Bool {
        await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: (try? self.select(voice: name)) != nil)
            }
        }
    }

    // MARK: On `queue` only

    private func sampleRateOnQueue() throws(SpeechError) -> Int {
        let state = engine.withLock { $0 }
        switch state {
        case .ready(let rate): return rate
        case .failed: throw .initializationFailed
        case .notStarted: break
        }
        // DONT_EXIT: without it, speak_lib.h says, espeak-ng may exit() when its data is missing,
        // taking the whole worker down instead of failing the job.
        let rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nil, espeakINITIALIZE_DONT_EXIT)
        guard rate > 0 else {
            engine.withLock { $0 = .failed }
            throw .initializationFailed
        }
        espeak_SetSynthCallback(collectSamples)
        engine.withLock { $0 = .ready(sampleRate: Int(rate)) }
        return Int(rate)
    }

    private func select(voice: String) throws(SpeechError) {
        _ = try sampleRateOnQueue()
        guard espeak_SetVoiceByName(voice) == EE_OK else { throw .unknownVoice(voice) }
        // A voice's settings outlive it: after `ru` (its voice file says `speed 95`) every later
        // voice spoke 6 % slower. Every synthesis starts from the normal rate.
        espeak_SetParameter(espeakRATE, Int32(espeakRATE_NORMAL), 0)
    }

    private func synthesizeOnQueue(
        _ text: String, voice: String, deadline: ContinuousClock.Instant?, flag: CancellationFlag,
        selectVoice: Bool = true
    ) throws(SpeechError) -> PCMAudio {
        // It may have waited in the queue behind other pages past its lease.
        if let deadline, ContinuousClock.now >= deadline { throw .abandoned }
        if flag.isCancelled { throw .abandoned }
        let rate = try sampleRateOnQueue()
        // The voice is checked even for empty text, so a bad voice fails the same way every time.
        if selectVoice { try select(voice: voice) }
        guard text.contains(where: { !$0.isWhitespace }) else {
            return PCMAudio(samples: [], sampleRate: rate)
        }
        let sink = Unmanaged.passRetained(
            SampleSink(deadline: deadline, flag: flag, maxSamples: rate * Self.maxSeconds))
        defer { sink.release() }
        let status = text.withCString { pointer in
            espeak_Synth(
                pointer, strlen(pointer) + 1, 0, POS_CHARACTER, 0, UInt32(espeakCHARS_UTF8), nil,
                sink.toOpaque())
        }
        let stopped = sink.takeUnretainedValue().stopped
        // A synthesis stopped by the callback: espeak-ng is told to drop whatever of it is still
        // queued (measured: nothing reached the next page even without this; kept as the
        // documented way to stop).
        if stopped != nil { espeak_Cancel() }
        if stopped == .deadline { throw .abandoned }
        if stopped == .tooLong {
            throw .synthesisFailed("the page speaks for more than \(Self.maxSeconds / 3600) hours")
        }
        guard status == EE_OK else { throw .synthesisFailed("espeak_Synth returned \(status.rawValue)") }
        // A no-op in synchronous mode, kept so a change of output mode cannot return early.
        guard espeak_Synchronize() == EE_OK else { throw .synthesisFailed("espeak_Synchronize failed") }
        return PCMAudio(samples: sink.takeUnretainedValue().samples, sampleRate: rate)
    }
}

extension SpeechSynthesizer {
    /// The longest a page may speak (memory: 16-bit samples at 22 kHz are 160 MB an hour).
    static let maxSeconds = 4 * 3600
}

/// Where the callback puts one synthesis' samples; used only on the synthesizer's queue.
private final class SampleSink {
    enum Stop { case deadline, tooLong }

    var samples: [Int16] = []
    let deadline: ContinuousClock.Instant?
    let flag: CancellationFlag
    let maxSamples: Int
    var stopped: Stop?

    init(deadline: ContinuousClock.Instant?, flag: CancellationFlag, maxSamples: Int) {
        self.deadline = deadline
        self.flag = flag
        self.maxSamples = maxSamples
    }
}

/// espeak-ng's synthesis callback: a plain C function (espeak-ng cannot call a closure), handed
/// the current `SampleSink` through the events' `user_data`.
private func collectSamples(
    _ wav: UnsafeMutablePointer<Int16>?, _ count: Int32, _ events: UnsafeMutablePointer<espeak_EVENT>?
) -> Int32 {
    guard let wav, count > 0, let user = events?.pointee.user_data else { return 0 }
    let sink = Unmanaged<SampleSink>.fromOpaque(user).takeUnretainedValue()
    if sink.flag.isCancelled || sink.deadline.map({ ContinuousClock.now >= $0 }) == true {
        sink.stopped = .deadline
        return 1  // 1: stop synthesising
    }
    guard sink.samples.count + Int(count) <= sink.maxSamples else {
        sink.stopped = .tooLong
        return 1
    }
    sink.samples.append(contentsOf: UnsafeBufferPointer(start: wav, count: Int(count)))
    return 0  // 0: go on synthesising
}
