import ClusterTransport
import Distributed
import Foundation
import Metrics

extension Coordinator {
    /// Pieces of page images and MP3s cross in this size, far below the frame limit.
    static let transferChunk = 1 << 20

    /// Follows the receptionist: new workers get asked their capacity, vanished ones are dropped
    /// (their jobs fail with the connection and go back to the queue).
    func workersChanged(_ ids: [ClusterActorID]) async {
        guard !stopped else { return }
        let current = Set(ids)
        for id in dispatcher.slots.keys where !current.contains(id) {
            let held = dispatcher.leave(id)
            logger.info("[WORKERS] \(id.node.name) left (\(held) jobs in hand)")
        }
        var unreachedWorkers = false
        for id in ids where dispatcher.slot(id) == nil {
            do {
                let worker = try $PageSynthesizing.resolve(id: id, using: actorSystem)
                let capacity = try await worker.capacity()
                // Another machine's list: only short names, and not too many, are kept.
                let packs = try await worker.ocrLanguages().filter { name in
                    name.count <= 16
                        && name.unicodeScalars.allSatisfy { $0.isASCII && $0.properties.isAlphabetic || $0 == "_" }
                }.prefix(64)
                let voices = try await worker.voices().filter { voice in
                    [voice.name, voice.engine, voice.language, voice.quality].allSatisfy {
                        (1...32).contains($0.utf8.count)
                    } && (1...384_000).contains(voice.sampleRate)
                }.prefix(256)
                guard dispatcher.slot(id) == nil, Set(actorSystem.receptionist.lookup(pageWorkerKey)).contains(id)
                else { continue }
                // A worker's word on its capacity is bounded: it only decides how many jobs it is sent.
                dispatcher.join(
                    id, worker: worker, node: id.node.name, capacity: min(max(capacity, 1), 256),
                    ocrLanguages: Array(packs), voices: Array(voices))
                logger.info(
                    "[WORKERS] \(id.node.name) joined with concurrency \(capacity), OCR packs \(packs.joined(separator: " ")), natural voices \(voices.filter { $0.quality == "natural" }.map(\.name).joined(separator: " "))"
                )
            } catch {
                // Often a worker that has only just connected; asked again while it stays listed.
                logger.warning("[WORKERS] cannot reach new worker \(id.node.name): \(error); asking again in 1 s")
                unreachedWorkers = true
            }
        }
        // One retry for all the workers that failed, never one per failure (each retry would
        // spawn as many again while they keep failing).
        if unreachedWorkers, !workerRetryScheduled {
            workerRetryScheduled = true
            Task {
                try? await Task.sleep(for: .seconds(1))
                self.workerRetryScheduled = false
                await self.workersChanged(self.actorSystem.receptionist.lookup(pageWorkerKey))
            }
        }
        await pump()
    }

    /// Queues pages with what their voice needs (read from the store, once per page); a page whose
    /// need cannot be read is queued for any worker rather than left out.
    func enqueue(_ keys: [PageKey]) async {
        let needs: [PageKey: VoiceNeed]
        do {
            needs = try await store.voiceNeeds(keys.filter { dispatcher.needs[$0] == nil })
        } catch {
            logger.error("[AUDIO TASK] cannot read what \(keys.count) pages need of their voice: \(error)")
            needs = [:]
        }
        for key in keys { dispatcher.enqueue(key, need: needs[key]) }
    }

    /// Hands out jobs while there are jobs and free worker slots: picks them all first, then
    /// starts their attempts in one store transaction (one commit per job was the limit on
    /// dispatch rate). A batch that cannot be started is tried again after a backoff, so a
    /// database hiccup cannot leave jobs waiting for an event that never comes.
    ///
    /// One pump at a time: with a store that suspends, a second pump during the first's
    /// transaction would pick for slots the first is about to fill. It runs again instead.
    func pump() async {
        guard !stopped else { return }
        guard !pumping else {
            pumpAgain = true
            return
        }
        pumping = true
        defer { pumping = false }
        repeat {
            pumpAgain = false
            await pumpOnce()
        } while pumpAgain
    }

    private func pumpOnce() async {
        let picks = dispatcher.pick()
        guard !picks.isEmpty else { return }
        let inputs: [PageJobInput?]
        do {
            inputs = try await store.startAttempts(
                picks.map { ($0.key, $0.node) }, retaking: uncertainStarts.intersection(picks.map(\.key)))
            pumpRetry = nil
            uncertainStarts.subtract(picks.map(\.key))
        } catch {
            // The transaction may have committed before its answer was lost: these pages may be
            // `processing` with no job, so their next start may take them as they are.
            uncertainStarts.formUnion(picks.map(\.key))
            dispatcher.putBack(picks.map(\.key))
            let delay = min((pumpRetry ?? settings.retryBackoff) * 2, .seconds(30))
            pumpRetry = delay
            logger.error("[AUDIO TASK] cannot start \(picks.count) jobs: \(error); trying again in \(delay)")
            Task {
                try? await Task.sleep(for: delay)
                await self.pump()
            }
            return
        }
        for (pick, input) in zip(picks, inputs) {
            // nil: the page is no longer pending (its book was deleted, or it is done).
            guard let input else {
                dispatcher.finish(pick.key)
                continue
            }
            guard let slot = dispatcher.slot(pick.worker),
                let lease = dispatcher.lease(pick.key, to: pick.worker, attempt: input.attempts)
            else {
                // The worker left while the store was starting the attempt (only a store that
                // suspends lets that happen): the attempt is given back and the page queued again.
                await giveBack(pick.key, attempt: input.attempts)
                continue
            }
            dispatch(pick.key, input: input, lease: lease, worker: slot.worker, node: slot.node)
        }
    }

    private func giveBack(_ key: PageKey, attempt: Int) async {
        await recordEnding(
            of: key, attempt: attempt, message: "its worker left before the job was sent", ending: .refused)
    }

    private func dispatch(
        _ key: PageKey, input: PageJobInput, lease: Dispatcher<any PageSynthesizing>.Lease,
        worker: any PageSynthesizing, node: String
    ) {
        emit(
            key.book, "page_processing",
            PageProcessing(
                bookId: key.book, pageNumber: key.page, worker: node, attempt: input.attempts,
                audioUrl: BookPages.Page.audioPath(book: key.book, page: key.page)))
        logger.info(
            "[AUDIO TASK] Starting audio generation for Book \(key.book), Page \(key.page) (attempt \(input.attempts), \(node))"
        )
        let duration = settings.jobLease
        var job = PageJob(
            bookId: key.book, pageNumber: key.page, totalPages: input.totalPages, attempt: input.attempts,
            lease: lease.token,
            text: input.text, voice: input.voice, language: input.language, textSource: input.textSource)
        job.checkWithOCR = input.checkWithOCR && input.textSource == "pdf"
        job.quality = input.quality
        job.coordinatorEpoch = leaseEpoch
        job.leaseSeconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        let token = lease.token
        Task {
            let deadline = ContinuousClock.now + duration
            do {
                let answer: (PageResult, PendingAudio?)
                if job.textSource == "ocr" {
                    let image = try await self.scanImage(key)
                    if image.isBlank {
                        // Nothing on the page for OCR to find: done without bothering a worker.
                        answer = (
                            PageResult(audioBytes: 0, durationSeconds: 0, voice: nil, textSource: "ocr", text: ""), nil
                        )
                    } else {
                        job.imageBytes = image.png.count
                        try await Self.stage(image.png, lease: token, on: worker, deadline: deadline)
                        answer = try await self.voiceStreaming(key, job: job, from: worker, deadline: deadline)
                    }
                } else {
                    if job.checkWithOCR {
                        // The page has a text layer: a page that cannot be drawn, or is blank, is
                        // voiced from it without the comparison rather than failed.
                        let image = try? await self.scanImage(key)
                        job.checkWithOCR = image.map { !$0.isBlank } ?? false
                        if let image, job.checkWithOCR {
                            job.imageBytes = image.png.count
                            try await Self.stage(image.png, lease: token, on: worker, deadline: deadline)
                        }
                    }
                    answer = try await self.voiceStreaming(key, job: job, from: worker, deadline: deadline)
                }
                await self.finished(key, token: token, with: .success(answer))
            } catch {
                await self.finished(key, token: token, with: .failure(error))
            }
        }
    }

    /// A worker's sentence timings, kept only when they can describe its audio: numbers from
    /// another machine.
    nonisolated static func checkedSegments(of result: PageResult, maxCharacters: Int) -> [AudioSegment]? {
        guard let segments = result.segments,
            AudioSegment.areValid(segments, duration: result.durationSeconds, textUTF16: 2 * maxCharacters)
        else { return nil }
        return segments
    }

    /// A call bounded by what is left of the lease.
    nonisolated static func call<T: Sendable>(
        until deadline: ContinuousClock.Instant, _ body: () async throws -> T
    ) async throws -> T {
        let left = deadline - ContinuousClock.now
        guard left > .zero else { throw ClusterError.timedOut(target: "page job", node: "worker", after: .zero) }
        return try await ClusterSystem.$callTimeout.withValue(left) { try await body() }
    }

    /// Sends a page image in pieces, so no message comes near the frame limit.
    nonisolated static func stage(
        _ png: Data, lease: UUID, on worker: any PageSynthesizing, deadline: ContinuousClock.Instant
    ) async throws {
        var offset = 0
        while offset < png.count {
            let end = min(offset + transferChunk, png.count)
            let chunk = png.subdata(in: (png.startIndex + offset)..<(png.startIndex + end))
            try await call(until: deadline) { try await worker.stageImage(lease: lease, offset: offset, chunk: chunk) }
            offset = end
        }
    }

    /// The single place a job's outcome lands. Fencing: only the current lease of a page counts.
    func finished(
        _ key: PageKey, token: UUID, with result: Result<(PageResult, PendingAudio?), any Error>
    ) async {
        guard let lease = dispatcher.settle(key, token: token) else {
            if case .success((_, let audio?)) = result {
                live.end(key, attempt: token, completed: false)
                audioStore.discard(audio)
                // Its book may be gone (deleted while the audio was read): no folder stays behind.
                if (try? await store.bookExists(key.book)) == false { await audioStore.removeBook(key.book) }
            }
            logger.warning(
                "[AUDIO TASK] Ignoring a late answer for \(key): its lease is no longer current")
            return
        }
        CoordinatorMetrics.jobDuration.record(duration: ContinuousClock.now - lease.started)
        switch result {
        case .success((let page, let audio)):
            // Stored together with the other answers that arrive before the flush runs: under
            // load, one transaction for many pages.
            accepted.append(AcceptedPage(key: key, lease: lease, result: page, audio: audio))
            if !flushScheduled {
                flushScheduled = true
                Task { await self.flushAccepted() }
            }
        case .failure(let error):
            discardLive(key, attempt: token)
            await reject(error, for: key, lease: lease)
            await pump()
        }
    }

    /// Renames the accepted pages' audio into place, marks them completed in one transaction,
    /// then reports them (events, logs) and hands out the freed slots.
    func flushAccepted() async {
        flushScheduled = false
        let batch = accepted
        accepted = []
        await store(batch)
        await pump()
    }

    private func store(_ batch: [AcceptedPage]) async {
        var stored: [(page: AcceptedPage, path: String?)] = []
        for page in batch {
            do {
                if let audio = page.audio {
                    stored.append((page, try await audioStore.commit(audio)))
                } else {
                    stored.append((page, nil))
                }
            } catch {
                logger.error("[AUDIO TASK] Cannot store the audio of \(page.key): \(error)")
                discardLive(page.key, attempt: page.lease.token)
                await reject(error, for: page.key, lease: page.lease)
            }
        }
        let applied: [Bool]
        do {
            applied = try await store.complete(
                stored.map {
                    PageCompletion(
                        key: $0.page.key, attempt: $0.page.lease.attempt, audioPath: $0.path,
                        duration: $0.page.result.durationSeconds, voice: $0.page.result.voice,
                        textSource: $0.page.result.textSource,
                        text: $0.page.result.text.map { Self.bounded($0, limit: settings.maxPageCharacters) },
                        language: $0.page.result.language.map { String($0.prefix(16)) },
                        ocrConfidence: $0.page.result.ocrConfidence.flatMap { (0...100).contains($0) ? $0 : nil },
                        textQuality: $0.page.result.textQuality.flatMap {
                            ["good", "unreadable"].contains($0) ? $0 : nil
                        },
                        segments: Self.checkedSegments(of: $0.page.result, maxCharacters: settings.maxPageCharacters),
                        engine: $0.page.result.engine.flatMap { ["espeak-ng", "piper"].contains($0) ? $0 : nil })
                })
        } catch {
            // The database did not answer: the completion may land yet (one given up at the time
            // limit can, once its row lock is free), and its pages would then point at this audio.
            // It stays; if the completion never lands, each page's next commit removes it.
            let mayLand = store.isOutage(error)
            logger.error(
                "[AUDIO TASK] Cannot record \(stored.count) completed pages: \(error)\(mayLand ? "; their audio is kept, as the completion may still land" : "")"
            )
            for (page, path) in stored {
                if let path, !mayLand { await audioStore.remove(path) }
                live.end(page.key, attempt: page.lease.token, completed: false)
                await reject(error, for: page.key, lease: page.lease)
            }
            return
        }
        var books: [Int64] = []
        for ((page, path), done) in zip(stored, applied) {
            let key = page.key
            live.end(key, attempt: page.lease.token, completed: done)
            guard done else {
                // The page changed meanwhile (its book was deleted): no file may stay behind.
                if let path { await audioStore.remove(path) }
                if (try? await store.bookExists(key.book)) == false { await audioStore.removeBook(key.book) }
                logger.warning("[AUDIO TASK] Ignoring the result for \(key): the page changed meanwhile")
                continue
            }
            dispatcher.recordDone(by: page.lease.worker)
            dispatcher.finish(key)
            CoordinatorMetrics.pagesCompleted.increment()
            let url = path == nil ? nil : BookPages.Page.audioPath(book: key.book, page: key.page)
            emit(
                key.book, "page_completed",
                PageCompleted(
                    bookId: key.book, pageNumber: key.page, audioUrl: url,
                    audioDuration: path == nil ? nil : Int(page.result.durationSeconds.rounded()),
                    voice: page.result.voice, textSource: page.result.textSource,
                    language: page.result.language.map { String($0.prefix(16)) },
                    textQuality: page.result.textQuality.flatMap { ["good", "unreadable"].contains($0) ? $0 : nil }))
            logger.info("[AUDIO TASK] Page \(key.page) - COMPLETED! Audio URL: \(url ?? "none (no speakable text)")")
            if !books.contains(key.book) { books.append(key.book) }
        }
        for book in books {
            guard let status = try? await store.status(book: book) else { continue }
            await emitProgress(book, status: status)
            logger.info(
                "[PROGRESS] Book \(book) - \(status.pagesStatus.completed)/\(status.totalPages) pages completed (\(status.processingProgress)%)"
            )
            if status.audioReady {
                await dropSource(book: book)
                let total = Int(((try? await store.totalDuration(book: book)) ?? 0).rounded())
                logger.info("[COMPLETE] Book \(book) - ALL AUDIO GENERATED! Total duration: \(total)s")
            }
        }
    }

    /// What an error from a job means for the page's budget.
    static func ending(of error: any Error) -> Dispatcher<any PageSynthesizing>.Ending {
        if error is PageJobRefused { return .refused }
        if let error = error as? ClusterError {
            switch error {
            case .connectionLost, .unreachable, .shutDown, .handshakeRefused, .unknownActor, .actorGone: return .lost
            case .overloaded: return .refused
            case .timedOut, .invalidCall, .serialization, .forbidden: return .failed
            }
        }
        return .failed
    }

    /// How long a worker that lost a page is sent nothing (it may be dead and still listed).
    static let lostWorkerPause: Duration = .seconds(2)

    private func reject(_ error: any Error, for key: PageKey, lease: Dispatcher<any PageSynthesizing>.Lease) async {
        let ending = Self.ending(of: error)
        if ending == .lost, dispatcher.slot(lease.worker)?.pausedUntil.map({ $0 <= .now }) ?? true {
            dispatcher.pause(lease.worker, until: .now + Self.lostWorkerPause)
            // Its jobs may have nowhere else to go: hand out again when the pause ends.
            Task {
                try? await Task.sleep(for: Self.lostWorkerPause)
                await self.pump()
            }
        }
        await recordEnding(of: key, attempt: lease.attempt, message: Self.describe(error), ending: ending)
    }

    /// Tries at recording an attempt's end while the store cannot (a database restarting): the
    /// page stays `processing` there until it is recorded, and a page that is not `pending` is
    /// never started again, so putting it back in the queue would lose it.
    static let endingTries = 12

    /// Records how an attempt ended and acts on the verdict. While the store refuses, it tries
    /// again after a growing pause, at most `endingTries` times; a deposed coordinator stops
    /// (the page is the new one's).
    private func recordEnding(
        of key: PageKey, attempt: Int, message: String, ending: Dispatcher<any PageSynthesizing>.Ending,
        tries: Int = 1
    ) async {
        let outcome: AttemptOutcome
        do {
            outcome = try await store.endAttempt(
                key, attempt: attempt, error: message, ending: ending, policy: dispatcher.policy)
        } catch {
            guard tries < Self.endingTries, !stopped, !(error is CoordinatorDeposed) else {
                logger.error(
                    "[AUDIO TASK] Cannot record the failure of \(key) (\(tries) tries): \(error); it stays processing until a coordinator starts"
                )
                return
            }
            let delay = min(settings.retryBackoff * (1 << min(tries, 10)), .seconds(30))
            logger.error("[AUDIO TASK] Cannot record the failure of \(key): \(error); trying again in \(delay)")
            Task {
                try? await Task.sleep(for: delay)
                await self.recordEnding(of: key, attempt: attempt, message: message, ending: ending, tries: tries + 1)
            }
            return
        }
        guard let verdict = outcome.verdict else {
            if tries > 1 {
                // An earlier try that timed out may have landed after all (the page is `pending`
                // now): queued again, it is started if so; a page that is not pending is skipped.
                requeue(key, after: .zero)
            } else {
                // Settled by another write: a completion that seemed lost may have landed, and
                // then no event said so. Subscribers hear where the book stands (and whether it
                // is done).
                dispatcher.finish(key)
                await emitProgress(key.book)
            }
            return
        }
        switch verdict {
        case .fail(let reason):
            dispatcher.finish(key)
            CoordinatorMetrics.pagesFailed.increment()
            await reportFailure(key, attempt: attempt, error: reason, willRetry: false)
            logger.error(
                "[AUDIO TASK] Page \(key.page) of Book \(key.book) - FAILED after \(attempt) attempts: \(reason)")
        case .requeue(let delay):
            logger.warning(
                "[AUDIO TASK] Page \(key.page) of Book \(key.book) - \(ending == .lost ? "worker lost (\(outcome.losses) so far)" : "refused") (\(message)); queued again"
            )
            requeue(key, after: delay)
        case .retry(let delay):
            CoordinatorMetrics.attemptsFailed.increment()
            await reportFailure(key, attempt: attempt, error: message, willRetry: true)
            logger.warning(
                "[AUDIO TASK] Page \(key.page) of Book \(key.book) - attempt \(attempt) failed: \(message); retrying in \(delay)"
            )
            requeue(key, after: delay)
        }
    }

    /// `page_failed` and the book's progress, for the page's subscribers.
    private func reportFailure(_ key: PageKey, attempt: Int, error: String, willRetry: Bool) async {
        emit(
            key.book, "page_failed",
            PageFailed(bookId: key.book, pageNumber: key.page, error: error, attempt: attempt, willRetry: willRetry))
        await emitProgress(key.book)
    }

    private func requeue(_ key: PageKey, after delay: Duration) {
        guard delay > .zero else {
            dispatcher.enqueue(key)
            return
        }
        Task {
            try? await Task.sleep(for: delay)
            await self.requeueNow(key)
        }
    }

    private func requeueNow(_ key: PageKey) async {
        // The page may have been deleted meanwhile; startAttempts skips pages that are not pending.
        dispatcher.enqueue(key)
        await pump()
    }

    /// Text longer than `limit` characters is cut at a word, with a note saying so.
    static func bounded(_ text: String, limit: Int) -> String {
        guard text.unicodeScalars.count > limit else { return text }
        var cut = String(String.UnicodeScalarView(text.unicodeScalars.prefix(limit)))
        if let space = cut.lastIndex(where: \.isWhitespace), cut.distance(from: space, to: cut.endIndex) < 200 {
            cut = String(cut[..<space])
        }
        return cut + "\n\n[The rest of this page was not read: its text is longer than \(limit) characters.]"
    }

    static func describe(_ error: any Error) -> String {
        if let remote = error as? RemoteCallError { return remote.message }
        return String(describing: error)
    }
}
