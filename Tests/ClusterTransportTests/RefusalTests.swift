import Distributed
import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Testing

@testable import ClusterTransport

@Suite("Only the cluster's nodes get in")
struct RefusalTests {
    /// Proves the node still serves its own cluster after a refusal.
    func stillServes(_ server: ClusterSystem, _ greeter: Greeter, cluster: TestCluster) async throws {
        let friend = try await cluster.start(
            "friend-\(UInt32.random(in: 0...UInt32.max))", seeds: [server])
        let remote = try Greeter.resolve(id: greeter.id, using: friend)
        #expect(try await remote.greet("friend") == "Hello, friend from server!")
        await friend.shutdown()
    }

    @Test func certificateFromAnotherCAIsRefused() async throws {
        let cluster = try TestCluster()
        let server = try await cluster.start("server")
        let greeter = Greeter(actorSystem: server)

        let stranger = try await TestCluster(name: "other").start("client", seeds: [server])
        let remote = try Greeter.resolve(id: greeter.id, using: stranger)
        await #expect(throws: ClusterError.self) { _ = try await remote.greet("intruder") }
        #expect(!server.members.contains { $0.name == "client" })
        await stranger.shutdown()
        try await stillServes(server, greeter, cluster: cluster)
        await server.shutdown()
    }

    @Test func certificateNamingAnotherNodeIsRefused() async throws {
        let cluster = try TestCluster()
        let server = try await cluster.start("server")
        let greeter = Greeter(actorSystem: server)

        // A valid certificate of node "worker-1", presented by a process claiming to be "coordinator".
        var settings = try cluster.settings(
            "coordinator", seeds: [.init(name: "server", host: "127.0.0.1", port: server.node.port)])
        settings.credentials = try cluster.credentials(for: "worker-1")
        settings.requireCertificateMatchesName = false
        let imposter = try await ClusterSystem.start(settings: settings)
        let remote = try Greeter.resolve(id: greeter.id, using: imposter)
        await #expect(throws: ClusterError.self) { _ = try await remote.greet("imposter") }
        #expect(!server.members.contains { $0.name == "coordinator" || $0.name == "worker-1" })
        await imposter.shutdown()
        try await stillServes(server, greeter, cluster: cluster)
        await server.shutdown()
    }

    @Test func startRefusesAForeignCertificate() async throws {
        let cluster = try TestCluster()
        var settings = try cluster.settings("gateway")
        settings.credentials = try cluster.credentials(for: "worker-1")
        await #expect(throws: ClusterConfigurationError.self) {
            _ = try await ClusterSystem.start(settings: settings)
        }
    }

    @Test func plaintextClientIsRefused() async throws {
        let cluster = try TestCluster()
        let server = try await cluster.start("server")
        let greeter = Greeter(actorSystem: server)

        let client = try await RawClient.connect(port: server.node.port, tls: nil)
        let hello = Hello(
            node: ClusterNode(name: "plain", host: "127.0.0.1", port: 1, incarnation: 1), role: "x",
            state: ByteBuffer())
        try? await client.send(.hello(hello))
        // Closed by the TLS layer at the first bytes, far sooner than the 5 s handshake timeout.
        #expect(await client.closedWithin(.seconds(1)))
        #expect(!server.members.contains { $0.name == "plain" })
        try await stillServes(server, greeter, cluster: cluster)
        await server.shutdown()
    }

    @Test func tlsClientWithoutCertificateIsRefused() async throws {
        let cluster = try TestCluster()
        let server = try await cluster.start("server")
        let greeter = Greeter(actorSystem: server)
        // Trusts the CA, but has no certificate of its own.
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.certificateVerification = .none
        let context = try NIOSSLContext(configuration: configuration)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: context, serverHostname: nil))
                }
            }
            .connect(host: "127.0.0.1", port: server.node.port).get()
        var frame = ByteBuffer()
        frame.writeInteger(UInt32(1))
        frame.writeInteger(UInt8(7))
        try? await channel.writeAndFlush(frame).get()
        let deadline = ContinuousClock.now + .seconds(5)
        while channel.isActive, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(!channel.isActive)
        try await stillServes(server, greeter, cluster: cluster)
        await server.shutdown()
    }
}
