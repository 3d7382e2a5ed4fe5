import ArgumentParser
import Foundation

/// Where the client commands find the gateway.
struct ClientOptions: ParsableArguments {
    @Option(name: .long, help: "The gateway's URL (default $LECTOR_SERVER or http://127.0.0.1:8000).")
    var server: String = ProcessInfo.processInfo.environment["LECTOR_SERVER"] ?? "http://127.0.0.1:8000"

    @Option(name: .long, help: "API token, when the gateway needs one (default $LECTOR_TOKEN).")
    var token: String?

    var client: LectorClient {
        LectorClient(server: server, token: token ?? ProcessInfo.processInfo.environment["LECTOR_TOKEN"])
    }
}

/// Runs a client command's body, printing a failure as one sentence and exiting with its code.
func runClient(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let failure as LectorClient.Failure {
        FileHandle.standardError.write(Data("lector: \(failure.message)\n".utf8))
        throw ExitCode(failure.exitCode)
    }
}
