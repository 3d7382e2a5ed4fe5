import ClusterTransport
import Distributed
import Foundation
import Logging

/// Remote calls between two nodes in this process, over real mutual TLS on loopback: latency of
/// one caller, throughput of many, for three payload sizes.
struct RPCBench {
    var calls: Int
    var callers: Int
    var seconds: Double

    /// Figures per payload: `["100b": ["p50_us": …, …], …]`.
    func run() async throws -> [String: [String: Double]] {
        let authority = try CertificateAuthority.create(clusterName: "bench")
        func settings(_ name: String, seeds: [ClusterSettings.Seed]) throws -> ClusterSettings {
            let pair = try authority.issue(nodeName: name, role: "bench", hosts: ["127.0.0.1"])
            return ClusterSettings(
                name: name, role: "bench", host: "127.0.0.1", port: 0,
                credentials: try ClusterCredentials(
                    caPEM: authority.certificatePEM, certificatePEM: pair.certificatePEM, keyPEM: pair.keyPEM),
                seeds: seeds)
        }
        let quiet = Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() })
        let server = try await ClusterSystem.start(settings: settings("server", seeds: []), logger: quiet)
        let client = try await ClusterSystem.start(
            settings: settings("client", seeds: [.init(name: "server", host: "127.0.0.1", port: server.node.port)]),
            logger: quiet)
        let echo = BenchEcho(actorSystem: server)
        let remote = try BenchEcho.resolve(id: echo.id, using: client)

        var results: [String: [String: Double]] = [:]
        print("Lector actor calls:")
        print("payload   calls    p50 µs   p99 µs   calls/s (1 caller)   calls/s (\(callers) callers)")
        for (label, size) in [("100 B", 100), ("64 KB", 64 << 10), ("1 MB", 1 << 20)] {
            let payload = Data(repeating: 0x5A, count: size)
            let count = size >= 1 << 20 ? max(calls / 20, 50) : calls
            for _ in 0..<min(200, count) { _ = try await remote.echo(payload) }
            var latencies: [Double] = []
            latencies.reserveCapacity(count)
            let clock = ContinuousClock()
            let sequentialStart = clock.now
            let sequentialCPU = Self.cpuSeconds()
            for _ in 0..<count {
                let start = clock.now
                _ = try await remote.echo(payload)
                latencies.append((clock.now - start).microseconds)
            }
            let sequentialRate = Double(count) / (clock.now - sequentialStart).seconds
            let sequentialCPUPerCall = (Self.cpuSeconds() - sequentialCPU) / Double(count) * 1e6
            latencies.sort()
            let p50 = latencies[latencies.count / 2]
            let p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
            let concurrentCPU = Self.cpuSeconds()
            let concurrentRate = try await throughput(remote, payload: payload, callers: size >= 1 << 20 ? 8 : callers)
            let concurrentCPUPerCall = (Self.cpuSeconds() - concurrentCPU) / (concurrentRate * seconds) * 1e6
            print(
                label.padding(toLength: 10, withPad: " ", startingAt: 0)
                    + String(count).padding(toLength: 9, withPad: " ", startingAt: 0)
                    + String(format: "%-9.0f%-9.0f%-21.0f%.0f", p50, p99, sequentialRate, concurrentRate))
            results[label.replacingOccurrences(of: " ", with: "").lowercased()] = [
                "p50_us": p50, "p99_us": p99, "sequential_calls_per_s": sequentialRate,
                "concurrent_calls_per_s": concurrentRate,
                // Both ends' CPU per call (they share this process): steadier than wall-clock rates
                // on a shared machine, whose neighbours take turns with the cores.
                "sequential_cpu_us_per_call": sequentialCPUPerCall,
                "concurrent_cpu_us_per_call": concurrentCPUPerCall,
            ]
        }
        _ = echo
        await client.shutdown()
        await server.shutdown()
        return results
    }

    /// User plus system CPU time of this process so far.
    static func cpuSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }

    private func throughput(_ remote: BenchEcho, payload: Data, callers: Int) async throws -> Double {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        let start = ContinuousClock.now
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var done = 0
                    while ContinuousClock.now < deadline {
                        _ = try await remote.echo(payload)
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

distributed actor BenchEcho {
    typealias ActorSystem = ClusterSystem
    distributed func echo(_ data: Data) -> Data { data }
}
