import Foundation
import GRPCNIOTransportHTTP2

/// The measurements of `lector-bench`'s RPC run (its `RPCBench`), made with unary gRPC calls:
/// warm-up, sequential calls timed one by one, then callers in parallel for a fixed time.
struct EchoMeasurement {
    var client: Lector_Bench_Echo.Client<HTTP2ClientTransport.Posix>
    var calls: Int
    var callers: Int
    var seconds: Double

    /// Measures one payload size. 1 MB payloads make fewer sequential calls and use 8 callers.
    func measure(size: Int) async throws -> PayloadFigures {
        var message = Lector_Bench_EchoMessage()
        message.payload = Data(repeating: 0x5A, count: size)
        let count = size >= 1 << 20 ? max(calls / 20, 50) : calls
        for _ in 0..<min(200, count) {
            guard try await client.echo(message).payload.count == size else { throw EchoMismatch(size: size) }
        }
        var latencies: [Double] = []
        latencies.reserveCapacity(count)
        let clock = ContinuousClock()
        let sequentialStart = clock.now
        for _ in 0..<count {
            let start = clock.now
            _ = try await client.echo(message)
            latencies.append((clock.now - start).microseconds)
        }
        let sequentialRate = Double(count) / (clock.now - sequentialStart).seconds
        latencies.sort()
        return PayloadFigures(
            calls: count,
            p50Microseconds: latencies[latencies.count / 2],
            p99Microseconds: latencies[min(latencies.count - 1, latencies.count * 99 / 100)],
            sequentialCallsPerSecond: sequentialRate,
            concurrentCallsPerSecond: try await throughput(message, callers: size >= 1 << 20 ? 8 : callers))
    }

    /// Calls per second of `callers` tasks each making one call after another until the time is up,
    /// all over the one client connection (one HTTP/2 stream per call in flight).
    private func throughput(_ message: Lector_Bench_EchoMessage, callers: Int) async throws -> Double {
        let client = self.client
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        let start = ContinuousClock.now
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var done = 0
                    while ContinuousClock.now < deadline {
                        _ = try await client.echo(message)
                        done += 1
                    }
                    return done
                }
            }
            return try await group.reduce(0, +)
        }
        return Double(total) / (ContinuousClock.now - start).seconds
    }
}

/// The server answered a warm-up call with a payload of the wrong size.
struct EchoMismatch: Error, CustomStringConvertible {
    var size: Int
    var description: String { "the echo of a \(size)-byte payload came back with another size" }
}
