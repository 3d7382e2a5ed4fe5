import Foundation

/// The arithmetic behind `processing_progress`, a book's status and its ETA, kept apart from storage
/// so it can be tested on its own.
public enum ProgressMath {
    public struct Counts: Sendable, Equatable {
        public var pending = 0
        public var processing = 0
        public var completed = 0
        public var failed = 0

        public init(pending: Int = 0, processing: Int = 0, completed: Int = 0, failed: Int = 0) {
            self.pending = pending
            self.processing = processing
            self.completed = completed
            self.failed = failed
        }

        public var total: Int { pending + processing + completed + failed }
    }

    /// floor(100 × completed / total).
    public static func progress(_ counts: Counts) -> Int {
        counts.total == 0 ? 0 : counts.completed * 100 / counts.total
    }

    /// `pending` before any page started, `processing` while anything is left to run, `completed`
    /// when every page is, `failed` when nothing is left to run and a page failed.
    public static func status(_ counts: Counts) -> ProcessingStatus {
        if counts.total > 0, counts.completed == counts.total { return .completed }
        if counts.pending + counts.processing > 0 {
            let started = counts.processing + counts.completed + counts.failed > 0
            return started ? .processing : .pending
        }
        return counts.failed > 0 ? .failed : .pending
    }

    /// A human ETA from the throughput measured since the book's first job started.
    public static func estimatedTimeRemaining(_ counts: Counts, startedAt: Date?, now: Date = Date())
        -> String
    {
        switch status(counts) {
        case .completed: return "Complete!"
        case .failed: return "Stopped: \(counts.failed) page\(counts.failed == 1 ? "" : "s") failed"
        case .pending, .processing: break
        }
        let done = counts.completed + counts.failed
        guard let startedAt, done > 0 else { return "Calculating..." }
        let elapsed = max(now.timeIntervalSince(startedAt), 0.001)
        let remaining = Double(counts.pending + counts.processing) * elapsed / Double(done)
        return humanize(seconds: remaining)
    }

    /// "45 seconds", "2 minutes", "1 hour 5 minutes".
    public static func humanize(seconds: Double) -> String {
        let whole = max(1, Int(seconds.rounded(.up)))
        if whole < 60 { return "\(whole) second\(whole == 1 ? "" : "s")" }
        let minutes = Int((Double(whole) / 60).rounded(.up))
        if minutes < 60 { return "\(minutes) minute\(minutes == 1 ? "" : "s")" }
        let hours = minutes / 60
        let rest = minutes % 60
        let hourText = "\(hours) hour\(hours == 1 ? "" : "s")"
        return rest == 0 ? hourText : "\(hourText) \(rest) minute\(rest == 1 ? "" : "s")"
    }
}
