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

    /// Hands out jobs while there are jobs and free worker slots.
    func pump() {
        while !queue.isEmpty {
            guard let workerID = workers.max(by: { $0.value.freeSlots < $1.value.freeSlots })?.key,
                let slot = workers[workerID], slot.freeSlots > 0
            else { return }
            guard let key = queue.pop() else { return }
            dispatch(key, to: workerID, slot: slot)
        }
    }

    private func dispatch(_ key: PageKey, to workerID: ClusterActorID, slot: WorkerSlot) {
        let input: BookStore.JobInput
        do {
            guard let started = try store.startAttempt(key, worker: slot.node) else { return }
            input = started
        } catch {
            logger.error("[AUDIO TASK] cannot start \(key): \(error)")
            return
        }
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
        defer { pump() }
        switch result {
        case .success(let audio):
            accept(audio, for: key, lease: lease)
        case .failure(let error):
            reject(error, for: key, lease: lease)
        }
    }

    private func accept(_ audio: PageAudio, for key: PageKey, lease: Lease) {
        do {
            var path: String?
            if let mp3 = audio.mp3 {
                path = try audioStore.store(mp3, book: key.book, page: key.page)
            }
            guard
                try store.complete(
                    key, attempt: lease.attempt, audioPath: path, duration: audio.durationSeconds,
                    voice: audio.voice,
                    textSource: audio.textSource, text: audio.text)
            else {
                logger.warning("[AUDIO TASK] Ignoring the result for \(key): the page changed meanwhile")
                return
            }
            workers[lease.worker]?.jobsDone += 1
            CoordinatorMetrics.pagesCompleted.increment()
            emit(
                key.book, "page_completed",
                PageCompleted(
                    bookId: key.book, pageNumber: key.page,
                    audioUrl: path == nil ? nil : BookPages.Page.audioPath(book: key.book, page: key.page),
                    audioDuration: path == nil ? nil : Int(audio.durationSeconds.rounded()), voice: audio.voice,
                    textSource: audio.textSource))
            let status = try store.status(book: key.book)
            emitProgress(key.book, status: status)
            let url =
                path == nil
                ? "none (no speakable text)" : BookPages.Page.audioPath(book: key.book, page: key.page)
            logger.info("[AUDIO TASK] Page \(key.page) - COMPLETED! Audio URL: \(url)")
            logger.info(
                "[PROGRESS] Book \(key.book) - \(status.pagesStatus.completed)/\(status.totalPages) pages completed (\(status.processingProgress)%)"
            )
            if status.audioReady {
                dropSource(book: key.book)
                let total = Int(try store.totalDuration(book: key.book).rounded())
                logger.info("[COMPLETE] Book \(key.book) - ALL AUDIO GENERATED! Total duration: \(total)s")
            }
        } catch {
            logger.error("[AUDIO TASK] Cannot store the audio of \(key): \(error)")
            reject(error, for: key, lease: lease)
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
