/// What one payload size measured, under the names Lector's benchmark uses.
struct PayloadFigures {
    var calls: Int
    var p50Microseconds: Double
    var p99Microseconds: Double
    var sequentialCallsPerSecond: Double
    var concurrentCallsPerSecond: Double

    /// The JSON object of one `rpc.*` key.
    var json: [String: Double] {
        [
            "p50_us": p50Microseconds, "p99_us": p99Microseconds,
            "sequential_calls_per_s": sequentialCallsPerSecond,
            "concurrent_calls_per_s": concurrentCallsPerSecond,
        ]
    }
}
