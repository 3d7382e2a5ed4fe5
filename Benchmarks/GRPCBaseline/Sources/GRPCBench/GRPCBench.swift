import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import SwiftProtobuf

/// `grpc-bench`: unary gRPC calls over mutual TLS on loopback, client and server in this
/// process, measured exactly as `lector-bench` measures Lector's actor calls (see its
/// `RPCBench`), and written as JSON under the same keys.
@main
struct GRPCBench: AsyncParsableCommand {
    @Option(help: "Sequential calls per payload size.") var calls = 5000
    @Option(help: "Concurrent callers for the throughput runs.") var callers = 64
    @Option(help: "Seconds per throughput run.") var seconds: Double = 3
    @Option(help: "Where to write the figures as JSON.") var output = "grpc-results.json"

    func run() async throws {
        let certificates = try Certificates.make()
        defer { certificates.remove() }
        let serverTransport = HTTP2ServerTransport.Posix(
            address: .ipv4(host: "127.0.0.1", port: 0),
            transportSecurity: .mTLS(
                certificateChain: [.file(path: certificates.serverCertificate, format: .pem)],
                privateKey: .file(path: certificates.serverKey, format: .pem)
            ) { $0.trustRoots = .certificates([.file(path: certificates.ca, format: .pem)]) })
        let server = GRPCServer(transport: serverTransport, services: [EchoServer()])
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.serve() }
            guard let port = try await serverTransport.listeningAddress.ipv4?.port else {
                throw ValidationError("the gRPC server has no IPv4 address")
            }
            let clientTransport = try HTTP2ClientTransport.Posix(
                target: .ipv4(address: "127.0.0.1", port: port),
                transportSecurity: .mTLS(
                    certificateChain: [.file(path: certificates.clientCertificate, format: .pem)],
                    privateKey: .file(path: certificates.clientKey, format: .pem)
                ) { $0.trustRoots = .certificates([.file(path: certificates.ca, format: .pem)]) })
            try await withGRPCClient(transport: clientTransport) { client in
                try await measure(client)
            }
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
    }

    func measure(_ client: GRPCClient<HTTP2ClientTransport.Posix>) async throws {
        var results: [String: [String: Double]] = [:]
        print("gRPC-swift 2 unary calls (HTTP/2, mutual TLS):")
        print("payload   calls    p50 µs   p99 µs   calls/s (1 caller)   calls/s (\(callers) callers)")
        for (label, size) in [("100 B", 100), ("64 KB", 64 << 10), ("1 MB", 1 << 20)] {
            var message = EchoMessage()
            message.value = Data(repeating: 0x5A, count: size)
            let count = size >= 1 << 20 ? max(calls / 20, 50) : calls
            for _ in 0..<min(200, count) { _ = try await client.echo(message) }
            var latencies: [Double] = []
            latencies.reserveCapacity(count)
            let sequentialStart = ContinuousClock.now
            for _ in 0..<count {
                let start = ContinuousClock.now
                _ = try await client.echo(message)
                latencies.append((ContinuousClock.now - start).microseconds)
            }
            let sequentialRate = Double(count) / (ContinuousClock.now - sequentialStart).seconds
            latencies.sort()
            let p50 = latencies[latencies.count / 2]
            let p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
            let concurrentRate = try await throughput(client, message: message, callers: size >= 1 << 20 ? 8 : callers)
            print(
                label.padding(toLength: 10, withPad: " ", startingAt: 0)
                    + String(count).padding(toLength: 9, withPad: " ", startingAt: 0)
                    + String(format: "%-9.0f%-9.0f%-21.0f%.0f", p50, p99, sequentialRate, concurrentRate))
            results["rpc." + label.replacingOccurrences(of: " ", with: "").lowercased()] = [
                "p50_us": p50, "p99_us": p99, "sequential_calls_per_s": sequentialRate,
                "concurrent_calls_per_s": concurrentRate,
            ]
        }
        let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: output))
    }

    func throughput(
        _ client: GRPCClient<HTTP2ClientTransport.Posix>, message: EchoMessage, callers: Int
    ) async throws -> Double {
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

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var microseconds: Double { seconds * 1e6 }
}
