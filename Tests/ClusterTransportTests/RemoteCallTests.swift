import Distributed
import Foundation
import Testing

@testable import ClusterTransport

@Suite("Remote calls over mutual TLS")
struct RemoteCallTests {
    @Test func valuesErrorsVoidAndUnknownActors() async throws {
        let cluster = try TestCluster()
        let server = try await cluster.start("server")
        let client = try await cluster.start("client", seeds: [server])
        defer {
            Task {
                await client.shutdown()
                await server.shutdown()
            }
        }
        client.registerErrorType(GreeterFailure.self)

        let greeter = ClusterSystem.$actorPath.withValue("greeter") { Greeter(actorSystem: server) }
        let remote = try Greeter.resolve(id: greeter.id, using: client)

        #expect(try await remote.greet("Ada") == "Hello, Ada from server!")
        #expect(try await remote.sum([1, 2, 3], label: nil) == "sum=6")
        let blob = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        let before = client.traffic
        #expect(try await remote.echo(blob) == blob)
        // The call went out as (at least) one frame holding the whole argument, on a connection.
        let after = client.traffic
        #expect(after.framesSent > before.framesSent)
        #expect(after.bytesSent - before.bytesSent >= blob.count)
        #expect(after.openConnections >= 1)
        try await remote.nothing()

        await #expect(throws: GreeterFailure(reason: "bad input")) {
            try await remote.failCodable("bad input")
        }
        do {
            _ = try await remote.failPlain()
            Issue.record("expected an error")
        } catch let error as RemoteCallError {
            #expect(error.typeName.hasSuffix("PlainFailure"))
            #expect(error.message == "the plain failure happened")
            #expect(error.node == "server")
        }

        var missing = greeter.id
        missing.path = "nobody-here"
        let ghost = try Greeter.resolve(id: missing, using: client)
        do {
            _ = try await ghost.greet("x")
            Issue.record("expected an error")
        } catch let error as ClusterError {
            guard case .unknownActor(let message) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(message.contains("nobody-here"))
        }
        _ = greeter
    }

    @Test func callTimesOut() async throws {
        let cluster = try TestCluster()
        let server = try await cluster.start("server")
        let client = try await cluster.start("client", seeds: [server])
        defer {
            Task {
                await client.shutdown()
                await server.shutdown()
            }
        }
        let greeter = Greeter(actorSystem: server)
        let remote = try Greeter.resolve(id: greeter.id, using: client)

        // The caller gets `timedOut` naming the 200 ms it allowed, not the answer 3 s later (no
        // wall-clock bound here: the machines are shared).
        let error = await #expect(throws: ClusterError.self) {
            try await ClusterSystem.$callTimeout.withValue(.milliseconds(200)) {
                _ = try await remote.sleep(milliseconds: 3000)
            }
        }
        guard case .timedOut(_, _, let after) = error else {
            Issue.record("expected a timeout, got \(String(describing: error))")
            return
        }
        #expect(after == .milliseconds(200))
        // The connection survives a timed-out call.
        #expect(try await remote.greet("again").hasPrefix("Hello"))
    }

    @Test func peerKilledMidCallFailsPromptlyAndReconnects() async throws {
        let cluster = try TestCluster()
        var server = try await cluster.start("server")
        let port = server.node.port
        let client = try await cluster.start("client", seeds: [server])
        var greeter = Greeter(actorSystem: server)
        server.receptionist.register(greeter, key: "greeter")
        #expect(try await eventually { client.receptionist.lookup("greeter").count == 1 })
        let remote = try Greeter.resolve(id: greeter.id, using: client)

        let call = Task { try await remote.sleep(milliseconds: 4000) }
        try await Task.sleep(for: .milliseconds(200))
        let killed = ContinuousClock.now
        // As a crash would: no goodbye and no drain (a graceful shutdown waits for the answer).
        await server.shutdown(announcing: false)
        let result = await call.result
        // Failed by the lost connection, not left waiting for the 4 s answer.
        #expect(ContinuousClock.now - killed < .seconds(4))
        guard case .failure(let error) = result, let clusterError = error as? ClusterError else {
            Issue.record("expected a cluster error, got \(result)")
            return
        }
        switch clusterError {
        case .connectionLost: break
        default: Issue.record("unexpected \(clusterError)")
        }

        // The same node comes back on the same port: the client reconnects by itself and finds the
        // new incarnation's actor.
        server = try await cluster.start("server", port: port)
        greeter = Greeter(actorSystem: server)
        server.receptionist.register(greeter, key: "greeter")
        #expect(
            try await eventually {
                client.receptionist.lookup("greeter").first?.node.incarnation == server.node.incarnation
            })
        let fresh = try Greeter.resolve(id: client.receptionist.lookup("greeter")[0], using: client)
        #expect(try await fresh.greet("back") == "Hello, back from server!")
        // A reference to the old incarnation's actor (the same path, Greeter-1, in the new run) is
        // refused with its own error, never misdelivered.
        do {
            _ = try await remote.greet("old")
            Issue.record("a call to the previous incarnation's actor was delivered")
        } catch let error as ClusterError {
            guard case .actorGone = error else {
                Issue.record("expected actorGone, got \(error)")
                return
            }
        }
        await server.shutdown()
        await client.shutdown()
    }

    @Test func localProxyRoutesThroughRegistry() async throws {
        let cluster = try TestCluster()
        let system = try await cluster.start("solo")
        let greeter = Greeter(actorSystem: system)
        let resolved = try Greeter.resolve(id: greeter.id, using: system)
        #expect(try await resolved.greet("me") == "Hello, me from solo!")
        await system.shutdown()
    }
}
