import ClusterTransport
import Coordinator
import Distributed
import Foundation
import Logging
import Metrics

/// Turns a page's text into an MP3 for the coordinator.
///
/// Up to `concurrency` jobs overlap: synthesis is serialised inside `SpeechSynthesizer`, but the
/// encoders, which take most of the time, run side by side. The worker enforces that number itself
/// and gives up a job whose lease has run out, so a coordinator that already counted the attempt as
/// failed does not find later jobs queued behind it.
public distributed actor PageWorker: PageSynthesizing, MetricsReporting {
    public typealias ActorSystem = ClusterSystem

    public let concurrency: Int
    let logger: Logger
    var draining = false
    /// Jobs being done, by the lease epoch of the coordinator that sent them: only the newest
    /// epoch's count against `concurrency`, so jobs of a deposed coordinator do not keep the
    /// new one waiting.
    var jobsInHand: [Int64: Int] = [:]
    /// The newest coordinator epoch a job came with, and when one of its jobs last came or ended;
    /// older ones are refused while that epoch is in use. A deposed coordinator stops within one
    /// lease, so an older epoch after `epochMemory` of silence means the epochs began again (a
    /// new database).
    var newestEpoch: Int64 = 0
    var newestEpochSeen = ContinuousClock.now
    let epochMemory: Duration
    var allJobsInHand: Int { jobsInHand.values.reduce(0, +) }
    var transfers = PageTransfers()
    /// Helper processes that run Tesseract, so a crash in it costs the page, not this worker;
    /// nil reads in this process (tests).
    let ocrHelpers: HelperPool?
    let espeak = EspeakEngine()
    /// Natural voices, when this machine has them (`make deps`); nil speaks espeak-ng only.
    let piper: PiperEngine?

    public init(
        actorSystem: ClusterSystem, concurrency: Int, logger: Logger, ocrHelpers: HelperPool? = nil,
        piper: PiperEngine? = nil, epochMemory: Duration = .seconds(60)
    ) {
        self.actorSystem = actorSystem
        self.epochMemory = epochMemory
        self.concurrency = concurrency
        self.logger = logger
        self.ocrHelpers = ocrHelpers
        self.piper = piper
    }

    /// The voices this worker has, natural ones first; the coordinator lists them in `/api/voices/`.
    public distributed func voices() -> [VoiceInfo] {
        (piper?.voices ?? []) + espeak.voices
    }

    public distributed func capacity() -> Int { concurrency }

    public distributed func ocrLanguages() -> [String] {
        TextRecognizer.installedPacks.subtracting(["osd"]).sorted()
    }

    public distributed func prometheusText() -> String {
        WorkerMetrics.jobsInHand.record(allJobsInHand)
        return NodeMetrics.text()
    }

    public distributed func stageImage(lease: UUID, offset: Int, chunk: Data) throws {
        try transfers.stage(lease: lease, offset: offset, chunk: chunk, now: .now)
    }

    /// Waits up to this long for new bytes before answering an empty piece, so a reader asks a
    /// few times a second at most, and hears of new audio at once.
    static let pieceWait: Duration = .seconds(2)

    public distributed func audioPiece(lease: UUID, offset: Int, length: Int) async throws -> AudioPiece {
        let until = ContinuousClock.now + Self.pieceWait
        while true {
            // A piece is bounded whatever is asked, so its reply stays far below the frame limit.
            let length = min(length, 4 << 20)
            if let piece = try transfers.audioPiece(lease: lease, offset: offset, length: length, now: .now) {
                return piece
            }
            guard ContinuousClock.now < until else { return AudioPiece(data: Data(), complete: false) }
            try await Task.sleep(for: .milliseconds(40))
        }
    }

    public distributed func releaseAudio(lease: UUID) {
        transfers.release(lease: lease)
    }

    public distributed func synthesize(_ job: PageJob) async throws -> PageResult {
        guard !draining else {
            throw PageJobRefused(worker: actorSystem.node.name, reason: "it is shutting down")
        }
        let now = ContinuousClock.now
        if job.coordinatorEpoch < newestEpoch {
            let inUse = jobsInHand[newestEpoch, default: 0] > 0 || now - newestEpochSeen < epochMemory
            guard !inUse else {
                throw PageJobRefused(
                    worker: actorSystem.node.name,
                    reason:
                        "the job comes from a deposed coordinator (epoch \(job.coordinatorEpoch); the active one is \(newestEpoch))"
                )
            }
            logger.warning(
                "[LEASE] epoch \(job.coordinatorEpoch) after \(newestEpoch) fell silent for \(epochMemory): the epochs began again"
            )
            newestEpoch = job.coordinatorEpoch
        }
        if job.coordinatorEpoch > newestEpoch {
            if newestEpoch > 0 {
                logger.info("[LEASE] jobs now come from coordinator epoch \(job.coordinatorEpoch)")
            }
            newestEpoch = job.coordinatorEpoch
        }
        if job.coordinatorEpoch == newestEpoch { newestEpochSeen = now }
        let epoch = job.coordinatorEpoch
        let inHand = jobsInHand[epoch, default: 0]
        // Each epoch has its own slots, but all of them together at most twice `concurrency`: a
        // peer sending ever newer epochs must not start unbounded work.
        guard inHand < concurrency, allJobsInHand < 2 * concurrency else {
            throw PageJobRefused(worker: actorSystem.node.name, reason: "busy with \(allJobsInHand) jobs")
        }
        guard job.leaseSeconds.isFinite, job.leaseSeconds > 0, job.leaseSeconds <= 24 * 3600 else {
            throw PageTransferError(reason: "the job's lease of \(job.leaseSeconds) s is not usable")
        }
        jobsInHand[epoch, default: 0] += 1
        defer {
            jobsInHand[epoch, default: 1] -= 1
            if jobsInHand[epoch] == 0 { jobsInHand[epoch] = nil }
            if epoch == newestEpoch { newestEpochSeen = .now }
        }
        transfers.expire(now: .now)
        let deadline = ContinuousClock.now + .seconds(job.leaseSeconds)
        let started = ContinuousClock.now
        // The MP3 grows here while the page is spoken; the coordinator reads it as it grows.
        transfers.openAudio(lease: job.lease, until: deadline + .seconds(60))
        let audio: PageAudio
        do {
            if job.textSource == "ocr" || job.checkWithOCR {
                let image = try transfers.takeImage(lease: job.lease, expecting: job.imageBytes)
                audio = try await read(job, image: image, deadline: deadline)
            } else {
                audio = try await voice(job, identified: nil, deadline: deadline)
                WorkerMetrics.synthesisDuration.record(duration: ContinuousClock.now - started)
            }
        } catch {
            transfers.failAudio(lease: job.lease, reason: String(describing: error))
            throw error
        }
        transfers.completeAudio(lease: job.lease, head: audio.head)
        WorkerMetrics.pagesVoiced.increment()
        var result = PageResult(
            audioBytes: transfers.audioBytes(lease: job.lease), durationSeconds: audio.durationSeconds,
            voice: audio.voice, textSource: audio.textSource, text: audio.text, language: audio.language,
            ocrConfidence: audio.ocrConfidence, textQuality: audio.textQuality)
        result.segments = audio.segments
        result.engine = audio.engine
        result.audioHead = audio.head
        return result
    }

    /// An OCR job, or a doubtful text layer checked against OCR of the same page.
    private func read(_ job: PageJob, image: Data, deadline: ContinuousClock.Instant) async throws -> PageAudio {
        let page = job.pageNumber
        let given = TextRecognizer.languages(for: job.language)
        logger.info(
            "[OCR] Page \(page) - reading the page image (\(image.count / 1024) KB) with Tesseract (\(given ?? "packs chosen by script and language"))"
        )
        let started = ContinuousClock.now
        let reading: PageReading
        do {
            reading = try await recognize(image, languages: given, page: page, deadline: deadline)
        } catch  where job.checkWithOCR && !(error is SpeechError) {
            // Only a check: the page still has its text layer to voice.
            logger.warning("[OCR] Page \(page) - the check against OCR failed (\(error)); the text layer is voiced")
            return try await voice(job, identified: nil, deadline: deadline)
        }
        WorkerMetrics.ocrDuration.record(duration: ContinuousClock.now - started)
        WorkerMetrics.pagesRead.increment()
        let language = job.language ?? reading.language
        let dictionary = DevanagariDictionary.hindi
        let text = TextLayerCheck.repair(reading.text, language: language, dictionary: dictionary)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let confidence = (reading.meanConfidence * 10).rounded() / 10
        logger.info(
            "[OCR] Page \(page) - \(text.unicodeScalars.count) characters read in \(ContinuousClock.now - started) with \(reading.languages), turned \(reading.rotation)°, script \(reading.script ?? "unknown"), mean confidence \(confidence) %"
        )
        if job.checkWithOCR {
            let useOCR =
                reading.isReadable
                && TextLayerCheck.prefersOCR(textLayer: job.text, ocr: text, language: language, dictionary: dictionary)
            logger.info(
                "[OCR] Page \(page) - text layer checked against OCR: \(useOCR ? "OCR reads better and replaces it" : "the text layer is kept")"
            )
            if !useOCR { return try await voice(job, identified: nil, deadline: deadline) }
        }
        guard reading.isReadable else {
            logger.warning("[OCR] Page \(page) - not voiced: \(reading.unreadableReason)")
            var audio = PageAudio(durationSeconds: 0, voice: nil, textSource: "ocr", text: text)
            audio.ocrConfidence = confidence
            audio.textQuality = "unreadable"
            return audio
        }
        var read = job
        read.text = text
        var audio = try await voice(read, identified: reading.language, deadline: deadline)
        audio.textSource = "ocr"
        audio.text = text
        audio.ocrConfidence = confidence
        return audio
    }

    /// Tesseract in a helper process, or in this one when there are no helpers (tests).
    private func recognize(_ image: Data, languages: String?, page: Int, deadline: ContinuousClock.Instant)
        async throws -> PageReading
    {
        guard let ocrHelpers else {
            return try await TextRecognizer.shared.read(png: image, languages: languages, deadline: deadline)
        }
        do {
            let answer = try await ocrHelpers.request(
                .ocr, NativeRequests.OCR(languages: languages, dpi: 300, png: image).encoded, deadline: deadline)
            return try JSONDecoder().decode(PageReading.self, from: answer)
        } catch let failure as HelperPool.Failure {
            logger.error("[OCR] Page \(page) - \(failure)")
            throw OCRError.helperFailed(failure.crashed ? "Tesseract crashed on this page" : failure.description)
        } catch is DecodingError {
            throw OCRError.helperFailed("the OCR helper's answer could not be read")
        }
    }

    /// Stops taking jobs and returns once the ones in hand are done; SIGTERM on a worker calls it
    /// before the node leaves.
    public func drain() async {
        draining = true
        if allJobsInHand > 0 {
            logger.info("[DRAIN] finishing \(allJobsInHand) job(s) in hand before leaving")
        }
        while allJobsInHand > 0 {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    private func voice(_ job: PageJob, identified: String?, deadline: ContinuousClock.Instant) async throws
        -> PageAudio
    {
        let page = job.pageNumber
        logger.info(
            "[AUDIO TASK] Page \(page) - Status: PENDING → PROCESSING (book \(job.bookId), attempt \(job.attempt))"
        )
        logger.info("[AUDIO TASK] Page \(page) - Text length: \(job.text.unicodeScalars.count) chars")
        let (chosen, guessed) = VoiceChoice.choose(for: job, identified: identified)
        let (engine, voice, language) = speaker(for: job, voice: chosen, language: guessed)
        let sentences = Sentences.split(job.text).filter { VoiceChoice.isSpeakable($0.text) }
        guard !sentences.isEmpty else {
            logger.info("[AUDIO TASK] Page \(page) - nothing to speak; completed without audio")
            return .silent
        }
        logger.info(
            "[AUDIO TASK] Page \(page) - Generating audio with \(engine.name) (voice \(voice)), \(sentences.count) sentences..."
        )
        // Sentence by sentence: each sentence's place in the audio is known exactly, and its MP3
        // goes out as soon as it is encoded. The first group is one sentence, so a listener hears
        // the page within a sentence's time; the groups then double, up to 16 sentences, so
        // espeak-ng chooses its voice a few times a page rather than per sentence.
        var stream: MP3Stream?
        var samples = 0
        var rate = 0
        var segments: [AudioSegment] = []
        var next = 0
        var group = 1
        while next < sentences.count {
            let part = sentences[next..<min(next + group, sentences.count)]
            next += part.count
            group = min(group * 2, 16)
            let spoken = try await engine.synthesize(
                sentences: part.map { VoiceChoice.prepare($0.text) }, voice: voice, deadline: deadline)
            var pcm: [Int16] = []
            for (sentence, audio) in zip(part, spoken) where !audio.samples.isEmpty {
                if rate == 0 { rate = audio.sampleRate }
                guard audio.sampleRate == rate else {
                    throw SpeechError.synthesisFailed("the sample rate changed mid-page")
                }
                let start = Double(samples) / Double(rate)
                samples += audio.samples.count
                guard samples <= SpeechSynthesizer.maxSeconds * rate else {
                    throw SpeechError.synthesisFailed(
                        "the page's audio is longer than \(SpeechSynthesizer.maxSeconds / 3600) hours")
                }
                pcm.append(contentsOf: audio.samples)
                segments.append(
                    AudioSegment(
                        start: start, end: Double(samples) / Double(rate), textOffset: sentence.utf16Offset,
                        textLength: sentence.utf16Length))
            }
            guard !pcm.isEmpty else { continue }
            if stream == nil { stream = try MP3Stream(sampleRate: rate) }
            try transfers.appendAudio(try await stream!.encode(pcm, deadline: deadline), lease: job.lease)
        }
        guard let stream, samples > 0 else {
            return PageAudio(durationSeconds: 0, voice: voice, language: language)
        }
        try transfers.appendAudio(try await stream.finish(deadline: deadline), lease: job.lease)
        let duration = Double(samples) / Double(rate)
        logger.info("[AUDIO TASK] Page \(page) - Audio generated! Duration: \(Int(duration.rounded()))s")
        var audio = PageAudio(durationSeconds: duration, voice: voice, language: language)
        audio.textQuality = "good"
        audio.segments = segments
        audio.engine = engine.name
        audio.head = stream.head(of: transfers.audio(lease: job.lease))
        return audio
    }

    /// The engine and voice for a page: a natural voice when the book's quality allows it and
    /// this worker has one for the language (or the upload named it), espeak-ng otherwise.
    private func speaker(for job: PageJob, voice: String, language: String)
        -> (engine: any SpeechEngine, voice: String, language: String)
    {
        if let piper {
            if let named = piper.voices.first(where: { $0.name == voice }) { return (piper, voice, named.language) }
            let named = job.voice?.trimmingCharacters(in: .whitespaces).isEmpty == false
            if !named, job.quality != "fast", let natural = piper.voices.first(where: { $0.language == language }) {
                return (piper, natural.name, language)
            }
        }
        // A natural voice named on a worker without it: espeak-ng's voice for its language.
        if let natural = PiperEngine.knownVoices[voice] { return (espeak, natural, natural) }
        return (espeak, voice, language)
    }
}

extension PageWorker: CallerRoles {
    /// Only the coordinator hands out and reads back jobs; gateways gather metrics.
    public static func allowedRoles(forMethod method: String) -> Set<String>? {
        method == "prometheusText" ? [NodeRole.gateway] : [NodeRole.coordinator]
    }
}
