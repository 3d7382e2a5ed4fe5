import Metrics
import Prometheus

/// This process's metrics, kept in one Prometheus registry. Each node reports its own; the
/// gateway gathers them all for `GET /metrics`.
public enum NodeMetrics {
    public static let registry = PrometheusCollectorRegistry()

    /// Makes swift-metrics record into `registry`. Once per process, before any metric is used.
    public static func bootstrap() {
        var factory = PrometheusMetricsFactory(registry: registry)
        let jobBuckets: [Duration] = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120].map { .milliseconds(Int($0 * 1000)) }
        factory.durationHistogramBuckets["lector_job_duration_seconds"] = jobBuckets
        factory.durationHistogramBuckets["lector_worker_synthesis_seconds"] = jobBuckets
        factory.durationHistogramBuckets["lector_worker_ocr_seconds"] = jobBuckets
        factory.defaultDurationHistogramBuckets = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(5), .seconds(10),
        ]
        MetricsSystem.bootstrap(factory)
    }

    /// The registry in Prometheus' text format.
    public static func text() -> String {
        registry.emitToString()
    }
}

/// The coordinator's figures.
enum CoordinatorMetrics {
    static let pagesCompleted = Counter(label: "lector_pages_completed_total")
    static let pagesFailed = Counter(label: "lector_pages_failed_total")
    static let attemptsFailed = Counter(label: "lector_page_attempts_failed_total")
    static let jobDuration = Metrics.Timer(label: "lector_job_duration_seconds")
    static let queueDepth = Gauge(label: "lector_queue_depth")
    static let jobsInFlight = Gauge(label: "lector_jobs_in_flight")
    static let workersUp = Gauge(label: "lector_workers_up")
    static let uploads = Counter(label: "lector_uploads_total")
    static let uploadBytes = Counter(label: "lector_upload_bytes_total")
    static let books = Counter(label: "lector_books_created_total")
}
