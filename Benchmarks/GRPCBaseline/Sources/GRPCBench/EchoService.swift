import GRPCCore

/// The server side of the benchmark: answers every request with its own message, like Lector's
/// `BenchEcho.echo(_:)`.
struct EchoService: Lector_Bench_Echo.SimpleServiceProtocol {
    func echo(request: Lector_Bench_EchoMessage, context: ServerContext) async throws -> Lector_Bench_EchoMessage {
        request
    }
}
