import Foundation

/// The printed table, column for column as `lector-bench` prints Lector's actor calls.
enum Table {
    static func header(callers: Int) -> String {
        "payload   calls    p50 µs   p99 µs   calls/s (1 caller)   calls/s (\(callers) callers)"
    }

    static func row(_ label: String, _ figures: PayloadFigures) -> String {
        label.padding(toLength: 10, withPad: " ", startingAt: 0)
            + String(figures.calls).padding(toLength: 9, withPad: " ", startingAt: 0)
            + String(
                format: "%-9.0f%-9.0f%-21.0f%.0f", figures.p50Microseconds, figures.p99Microseconds,
                figures.sequentialCallsPerSecond, figures.concurrentCallsPerSecond)
    }
}
