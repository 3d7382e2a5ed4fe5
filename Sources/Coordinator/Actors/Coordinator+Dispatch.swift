import ClusterTransport
import Distributed
import Foundation
import Metrics

extension Coordinator {
    /// Follows the receptionist: new workers get asked their capacity, vanished ones are dropped
    /// (their jobs fail with the connection and go back to the queue).
    func workersChanged(_ ids: [ClusterActorID]) async {
        let current = Set(ids)
        for id in workers.keys where !current.contains(id) {
            logger.info(
                "[WORKERS] \(id.node.name) left (\(workers[id]?.inFlight.count ?? 0) jobs in hand)")
            workers[id] = nil
        }
        for id in ids where workers[id] == nil {
            do {
                let worker = try $PageSynthesizing.resolve(id: id, using: actorSystem)
                let capacity = try await worker.capacity()
                guard workers[id] == nil, Set(actorSystem.receptionist.lookup(pageWorkerKey)).contains(id)
                else { continue }
                workers[id] = WorkerSlot(worker: worker, node: id.node.name, capacity: max(1, capacity))
                logger.info("[WORKERS] \(id.node.name) joined with concurrency \(capacity)")
            } catch {
                logger.warning("[WORKERS] cannot reach new worker \(id.node.name): \(error)")
            }
        }
        pump()
    }

    /// Hands out jobs while there are jobs and free worker slots: picks them all first, then
    /// starts their attempts in one SQLite transaction (one commit per job was the limit on
    /// dispatch rate).
    func pump() {
        var free = workers.mapValues(\.freeSlots)
        var picks: [(key: PageKey, worker: ClusterActorID)] = []
        while !queue.isEmpty, let (workerID, slots) = free.max(by: { $0.value < $1.value }), slots > 0,
            let key = queue.pop()
        {
            picks.append((key, workerID))
            free[workerID] = slots - 1
        }
        guard !picks.isEmpty else { return }
        let inputs: [BookStore.JobInput?]
        do {
            inputs = try store.startAttempts(picks.map { ($0.key, workers[$0.worker]!.node) })
        } catch {
            logger.error("[AUDIO TASK] cannot start \(picks.count) jobs: \(error); queued again")
            for pick in picks { queue.push(pick.key) }
            return
        }
        for (pick, input) in zip(picks, inputs) {
            // nil: the page is no longer pending (its book was deleted, or it is done).
            guard let input, let slot = workers[pick.worker] else { continue }
            dispatch(pick.key, input: input, to: pick.worker, slot: slot)
        }
    }

    private func dispatch(_ key: PageKey, input: BookStore.JobInput, to workerID: ClusterActorID, slot: WorkerSlot) {
        let token = UUID()
        emit(
            key.book, "page_processing",
            PageProcessing(bookId: key.book, pageNumber: key.page, worker: slot.node, attempt: input.attempts))
        leases[key] = Lease(worker: workerID, attempt: input.attempts, token: token)
        workers[workerID]?.inFlight.insert(key)
        logger.info(
            "[AUDIO TASK] Starting audio generation for Book \(key.book), Page \(key.page) (attempt \(input.attempts), \(slot.node))"
        )
        let job = PageJob(
            bookId: key.book, pageNumber: key.page, totalPages: input.totalPages, attempt: input.attempts,
            lease: token,
            text: input.text, voice: input.voice, language: input.language, textSource: input.textSource)
        let worker = slot.worker
        let lease = settings.jobLease
        Task {
            do {
                let audio: PageAudio
                if job.textSource == "ocr" {
                    let image = try await self.scanImage(key)
                    if image.isBlank {
                        // Nothing on the page for OCR to find: done without bothering a worker.
                        audio = PageAudio(mp3: nil, durationSeconds: 0, voice: nil, textSource: "ocr", text: "")
                    } else {
                        audio = try await ClusterSystem.$callTimeout.withValue(lease) {
                            try await worker.synthesizeScanned(job, image: image.png)
                        }
                    }
                } else {
                    audio = try await ClusterSystem.$callTimeout.withValue(lease) {
                        try await worker.synthesize(job)
                    }
                }
                self.finished(key, token: token, with: .success(audio))
            } catch {
                self.finished(key, token: token, with: .failure(error))
            }
        }
    }

    /// The single place a job's outcome lands. Fencing: only the current lease of a page counts.
    func finished(_ key: PageKey, token: UUID, with result: Result<PageAudio, any Error>) {
        guard let lease = leases[key], lease.token == token else {
            logger.warning(
                "[AUDIO TASK] Ignoring a late answer for \(key): its lease is no longer current")
            return
        }
        leases[key] = nil
        workers[lease.worker]?.inFlight.remove(key)
        CoordinatorMetrics.jobDuration.record(duration: ContinuousClock.now - lease.started)
        switch result {
        case .success(let audio):
            // Stored together with the other answers that arrive before the flush runs: under
            // load, one transaction for many pages.
            accepted.append(AcceptedPage(key: key, lease: lease, audio: audio))
            if !flushScheduled {
                flushScheduled = true
                Task { self.flushAccepted() }
            }
        case .failure(let error):
            reject(error, for: key, lease: lease)
            pump()
        }
    }

    /// Writes the accepted pages' audio files, marks them completed in one transaction, then
    /// reports them (events, logs) and hands out the freed slots.
    func flushAccepted() {
        flushScheduled = false
        let batch = accepted
        accepted = []
        defer { pump() }
        var stored: [(page: AcceptedPage, path: String?)] = []
        for page in batch {
            do {
                let path = try page.audio.mp3.map {
                    try audioStore.store($0, book: page.key.book, page: page.key.page)
                }
                stored.append((page, path))
            } catch {
                logger.error("[AUDIO TASK] Cannot store the audio of \(page.key): \(error)")
                reject(error, for: page.key, lease: page.lease)
            }
        }
        let applied: [Bool]
        do {
            applied = try store.complete(
                stored.map {
                    BookStore.Completion(
                        key: $0.page.key, attempt: $0.page.lease.attempt, audioPath: $0.path,
                        duration: $0.page.audio.durationSeconds, voice: $0.page.audio.voice,
                        textSource: $0.page.audio.textSource, text: $0.page.audio.text)
                })
        } catch {
            logger.error("[AUDIO TASK] Cannot record \(stored.count) completed pages: \(error)")
            for (page, _) in stored { reject(error, for: page.key, lease: page.lease) }
            return
        }
        var books: [Int64] = []
        for ((page, path), done) in zip(stored, applied) {
            let key = page.key
            guard done else {
                logger.warning("[AUDIO TASK] Ignoring the result for \(key): the page changed meanwhile")
                continue
            }
            workers[page.lease.worker]?.jobsDone += 1
            CoordinatorMetrics.pagesCompleted.increment()
            let url = path == nil ? nil : BookPages.Page.audioPath(book: key.book, page: key.page)
            emit(
                key.book, "page_completed",
                PageCompleted(
                    bookId: key.book, pageNumber: key.page, audioUrl: url,
                    audioDuration: path == nil ? nil : Int(page.audio.durationSeconds.rounded()),
                    voice: page.audio.voice, textSource: page.audio.textSource))
            logger.info("[AUDIO TASK] Page \(key.page) - COMPLETED! Audio URL: \(url ?? "none (no speakable text)")")
            if !books.contains(key.book) { books.append(key.book) }
        }
        for book in books {
            guard let status = try? store.status(book: book) else { continue }
            emitProgress(book, status: status)
            logger.info(
                "[PROGRESS] Book \(book) - \(status.pagesStatus.completed)/\(status.totalPages) pages completed (\(status.processingProgress)%)"
            )
            if status.audioReady {
                dropSource(book: book)
                let total = Int(((try? store.totalDuration(book: book)) ?? 0).rounded())
                logger.info("[COMPLETE] Book \(book) - ALL AUDIO GENERATED! Total duration: \(total)s")
            }
        }
    }

    private func reject(_ error: any Error, for key: PageKey, lease: Lease) {
        // A job lost with its worker's connection is not the page's fault: it goes back without
        // using up an attempt. Everything else (the worker threw, the lease ran out) counts.
        let lost: Bool
        if error is PageJobRefused {
            lost = true
        } else if let clusterError = error as? ClusterError {
            switch clusterError {
            case .connectionLost, .unreachable, .unknownActor, .shutDown: lost = true
            default: lost = false
            }
        } else {
            lost = false
        }
        let message = Self.describe(error)
        let final = !lost && lease.attempt >= settings.maxAttempts
        do {
            guard
                try store.endAttempt(
                    key, attempt: lease.attempt, error: message, finalFailure: final, countAttempt: !lost)
            else { return }
        } catch {
            logger.error("[AUDIO TASK] Cannot record the failure of \(key): \(error)")
            return
        }
        if !lost {
            (final ? CoordinatorMetrics.pagesFailed : CoordinatorMetrics.attemptsFailed).increment()
            emit(
                key.book, "page_failed",
                PageFailed(
                    bookId: key.book, pageNumber: key.page, error: message, attempt: lease.attempt, willRetry: !final))
            emitProgress(key.book)
        }
        if final {
            logger.error(
                "[AUDIO TASK] Page \(key.page) of Book \(key.book) - FAILED after \(lease.attempt) attempts: \(message)"
            )
            return
        }
        if lost {
            logger.warning(
                "[AUDIO TASK] Page \(key.page) of Book \(key.book) - worker lost (\(message)); queued again"
            )
            queue.push(key)
            return
        }
        let delay = settings.retryBackoff * (1 << min(lease.attempt - 1, 6))
        logger.warning(
            "[AUDIO TASK] Page \(key.page) of Book \(key.book) - attempt \(lease.attempt) failed: \(message); retrying in \(delay)"
        )
        Task {
            try? await Task.sleep(for: delay)
            self.requeueAfterBackoff(key)
        }
    }

    private func requeueAfterBackoff(_ key: PageKey) {
        guard !queue.contains(key) else { return }
        queue.push(key)
        pump()
    }

    static func describe(_ error: any Error) -> String {
        if let remote = error as? RemoteCallError { return remote.message }
        return String(describing: error)
    }
}
