import ArgumentParser
import ClusterTransport
import Distributed
import Foundation
import Logging

/// `lector bench rpc`: remote calls between two nodes in this process, over real mutual TLS on
/// loopback. The first piece of `make bench`; it prints a table and writes the figures as JSON.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Measure remote-call latency and throughput over mutual TLS on loopback.")

    @Option(help: "Sequential calls per payload size.") var calls: Int = 5000
    @Option(help: "Concurrent callers for the throughput run.") var callers: Int = 64
    @Option(help: "Seconds per throughput run.") var seconds: Double = 3
    @Option(help: "Where to write the figures as JSON.") var output: String = "bench-results.json"

    func run() async throws {
        let authority = try CertificateAuthority.create(clusterName: "bench")
        func settings(_ name: String, seeds: [ClusterSettings.Seed]) throws -> ClusterSettings {
            let pair = try authority.issue(nodeName: name, hosts: ["127.0.0.1"])
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
        print("payload   calls    p50 µs   p99 µs   calls/s (1 caller)   calls/s (\(callers) callers)")
        for (label, size) in [("100 B", 100), ("64 KB", 64 << 10), ("1 MB", 1 << 20)] {
            let payload = Data(repeating: 0x5A, count: size)
            let count = size >= 1 << 20 ? max(calls / 20, 50) : calls
            for _ in 0..<min(200, count) { _ = try await remote.echo(payload) }
            var latencies: [Double] = []
            latencies.reserveCapacity(count)
            let clock = ContinuousClock()
            let sequentialStart = clock.now
            for _ in 0..<count {
                let start = clock.now
                _ = try await remote.echo(payload)
                latencies.append((clock.now - start).microseconds)
            }
            let sequentialRate = Double(count) / (clock.now - sequentialStart).seconds
            latencies.sort()
            let p50 = latencies[latencies.count / 2]
            let p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
            let concurrentRate = try await throughput(remote, payload: payload, callers: size >= 1 << 20 ? 8 : callers)
            print(
                label.padding(toLength: 10, withPad: " ", startingAt: 0)
                    + String(count).padding(toLength: 9, withPad: " ", startingAt: 0)
                    + String(format: "%-9.0f%-9.0f%-21.0f%.0f", p50, p99, sequentialRate, concurrentRate))
            results["rpc.\(label.replacingOccurrences(of: " ", with: "").lowercased())"] = [
                "p50_us": p50, "p99_us": p99, "sequential_calls_per_s": sequentialRate,
                "concurrent_calls_per_s": concurrentRate,
            ]
        }
        let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: output))
        print("written to \(output)")
        _ = echo
        await client.shutdown()
        await server.shutdown()
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

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var microseconds: Double { seconds * 1e6 }
}
