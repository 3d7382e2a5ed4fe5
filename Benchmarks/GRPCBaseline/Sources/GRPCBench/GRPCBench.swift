import ArgumentParser
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2

/// `grpc-bench`: unary gRPC calls over mutual TLS on loopback, server and client in this process,
/// measured exactly as `lector-bench` measures Lector's actor calls, written as JSON under the
/// keys `rpc.100b`, `rpc.64kb` and `rpc.1mb`.
@main
struct GRPCBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "grpc-bench", abstract: "Unary gRPC-swift 2 calls over TLS on loopback: Lector's RPC baseline.")

    @Option(help: "Sequential calls per payload size (1 MB: a twentieth, at least 50).") var calls = 5000
    @Option(help: "Concurrent callers for the throughput runs (1 MB: 8).") var callers = 64
    @Option(help: "Seconds per throughput run.") var seconds: Double = 3
    @Option(help: "Where to write the figures as JSON.") var output = "grpc-results.json"

    static let payloads = [("100 B", 100), ("64 KB", 64 << 10), ("1 MB", 1 << 20)]

    func validate() throws {
        guard calls > 0, callers > 0, seconds > 0 else {
            throw ValidationError("--calls, --callers and --seconds must be positive")
        }
    }

    func run() async throws {
        let authority = try CertificateAuthority()
        let serverTransport = LoopbackTransports.server(
            identity: try authority.issue(commonName: "server"), authorityPEM: authority.certificatePEM,
            maxConcurrentStreams: max(callers, 100))
        let clientIdentity = try authority.issue(commonName: "client")
        let results = try await withGRPCServer(transport: serverTransport, services: [EchoService()]) { server in
            guard let port = try await server.listeningAddress?.ipv4?.port else {
                throw ValidationError("the gRPC server is not listening on IPv4")
            }
            let clientTransport = try LoopbackTransports.client(
                port: port, identity: clientIdentity, authorityPEM: authority.certificatePEM)
            return try await withGRPCClient(transport: clientTransport) { client in
                try await measure(Lector_Bench_Echo.Client(wrapping: client))
            }
        }
        let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: output))
    }

    /// Every payload size in turn, printing each row as it is done.
    private func measure(
        _ client: Lector_Bench_Echo.Client<HTTP2ClientTransport.Posix>
    ) async throws -> [String: [String: Double]] {
        let measurement = EchoMeasurement(client: client, calls: calls, callers: callers, seconds: seconds)
        var results: [String: [String: Double]] = [:]
        print("gRPC-swift 2 unary calls (HTTP/2, mutual TLS):")
        print(Table.header(callers: callers))
        for (label, size) in Self.payloads {
            let figures = try await measurement.measure(size: size)
            print(Table.row(label, figures))
            results["rpc." + label.replacingOccurrences(of: " ", with: "").lowercased()] = figures.json
        }
        return results
    }
}
