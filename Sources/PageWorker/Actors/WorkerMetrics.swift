import Metrics

/// A page worker's figures, reported through `PageWorker.prometheusText()`.
enum WorkerMetrics {
    static let pagesVoiced = Counter(label: "lector_worker_pages_voiced_total")
    static let pagesRead = Counter(label: "lector_worker_pages_ocr_total")
    static let synthesisDuration = Metrics.Timer(label: "lector_worker_synthesis_seconds")
    static let ocrDuration = Metrics.Timer(label: "lector_worker_ocr_seconds")
    static let jobsInHand = Gauge(label: "lector_worker_jobs_in_hand")
}
