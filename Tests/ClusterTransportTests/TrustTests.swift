import Distributed
import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import ClusterTransport

/// An actor that only gateways may open, as the coordinator's book API is.
distributed actor Vault: CallerRoles {
    typealias ActorSystem = ClusterSystem
    var opened = 0

    static func allowedRoles(forMethod method: String) -> Set<String>? {
        method == "open" ? ["gateway"] : nil
    }

    distributed func open(_ note: String) -> String {
        opened += 1
        return "opened: \(note)"
    }
    distributed func count() -> Int { opened }
}

/// Naps until cancelled, counting the naps that were.
distributed actor Sleeper {
    typealias ActorSystem = ClusterSystem
    var cancelled = 0

    distributed func nap() async {
        do {
            try await Task.sleep(for: .seconds(20))
        } catch {
            cancelled += 1
        }
    }
    distributed func cancellations() -> Int { cancelled }
}

/// Peers holding a valid certificate of the cluster, misbehaving.
@Suite("A valid certificate grants only its role", .serialized)
struct TrustTests {
    func settings(_ cluster: TestCluster, _ name: String, role: String, seeds: [ClusterSystem] = []) throws
        -> ClusterSettings
    {
        var settings = try cluster.settings(
            name, role: role, seeds: seeds.map { .init(name: $0.node.name, host: "127.0.0.1", port: $0.node.port) })
        settings.registrationRoles = ["coordinator": ["coordinator"]]
        return settings
    }

    @Test func aWorkerCannotRegisterAsTheCoordinatorNorCallTheGatewaysAPI() async throws {
        let cluster = try TestCluster()
        let coordinator = try await ClusterSystem.start(settings: settings(cluster, "coordinator", role: "coordinator"))
        let gateway = try await ClusterSystem.start(
            settings: settings(cluster, "gateway", role: "gateway", seeds: [coordinator]))
        let worker = try await ClusterSystem.start(
            settings: settings(cluster, "worker-1", role: "worker", seeds: [coordinator, gateway]))
        let real = Vault(actorSystem: coordinator)
        coordinator.receptionist.register(real, key: "coordinator")
        let fake = Vault(actorSystem: worker)
        worker.receptionist.register(fake, key: "coordinator")
        #expect(try await eventually { gateway.receptionist.lookup("coordinator").count == 1 })
        try await Task.sleep(for: .milliseconds(500))  // the worker's registration has long arrived
        #expect(gateway.receptionist.lookup("coordinator").map(\.node.name) == ["coordinator"])

        // The gateway's role may open it; the worker's may not, whatever it sends.
        let fromGateway = try Vault.resolve(id: real.id, using: gateway)
        #expect(try await fromGateway.open("by the gateway") == "opened: by the gateway")
        let fromWorker = try Vault.resolve(id: real.id, using: worker)
        do {
            _ = try await fromWorker.open("by a worker")
            Issue.record("a worker's call was let through")
        } catch let error as ClusterError {
            guard case .forbidden = error else {
                Issue.record("expected forbidden, got \(error)")
                return
            }
        }
        #expect(try await real.count() == 1)
        // Methods the actor leaves open stay open to every role.
        #expect(try await fromWorker.count() == 1)
        for system in [worker, gateway, coordinator] { await system.shutdown() }
    }

    @Test func aNodeCannotAnnounceThatAnotherIsLeaving() async throws {
        let cluster = try TestCluster()
        let server = try await cluster.start("server")
        let client = try await cluster.start("client", seeds: [server])
        let greeter = Greeter(actorSystem: client)
        client.receptionist.register(greeter, key: "greeter")
        #expect(try await eventually { server.receptionist.lookup("greeter").count == 1 })
        let mallory = try await cluster.start("mallory", seeds: [server])
        let connection = try await mallory.connection(to: server.node)
        connection.send(.leaving(client.node))
        try await Task.sleep(for: .milliseconds(800))
        // Still a member, still listed: the spoofed goodbye removed nothing (a loaded machine may
        // show it suspect for a moment, never gone).
        #expect(server.members.contains { $0.name == "client" && $0.status != .down })
        #expect(server.receptionist.lookup("greeter").count == 1)
        #expect(try await eventually { server.members.first { $0.name == "client" }?.status == .up })
        let remote = try Greeter.resolve(id: greeter.id, using: server)
        #expect(try await remote.greet("still here") == "Hello, still here from client!")
        for system in [mallory, client, server] { await system.shutdown() }
    }

    @Test func aCertificateServesOnlyTheRoleItGrants() async throws {
        let cluster = try TestCluster()
        let server = try await cluster.start("server")
        let greeter = Greeter(actorSystem: server)
        // A gateway's certificate in a node that claims to be a worker.
        var posing = try cluster.settings(
            "posing", role: "worker", seeds: [.init(name: "server", host: "127.0.0.1", port: server.node.port)])
        posing.credentials = try cluster.credentials(for: "posing", role: "gateway")
        posing.requireCertificateMatchesName = false
        let imposter = try await ClusterSystem.start(settings: posing)
        await #expect(throws: ClusterError.self) {
            _ = try await Greeter.resolve(id: greeter.id, using: imposter).greet("x")
        }
        #expect(!server.members.contains { $0.name == "posing" })
        await imposter.shutdown()

        // A certificate from before roles: refused by its own node at start, with what to do.
        let old = try cluster.authority.issue(nodeName: "old", roleOrNil: nil, hosts: ["127.0.0.1"])
        var oldSettings = try cluster.settings("old", role: "worker")
        oldSettings.credentials = try ClusterCredentials(
            caPEM: cluster.authority.certificatePEM, certificatePEM: old.certificatePEM, keyPEM: old.keyPEM)
        do {
            _ = try await ClusterSystem.start(settings: oldSettings)
            Issue.record("a certificate without a role was accepted")
        } catch let error as ClusterConfigurationError {
            #expect(error.description.contains("re-issue"))
        }
        await server.shutdown()
    }

    @Test func aClientWithAForeignCertificateIsRefusedByTheServerSide() async throws {
        let cluster = try TestCluster()
        let server = try await cluster.start("server")
        let greeter = Greeter(actorSystem: server)
        // Trusts this cluster's CA (so it accepts the server), but proves itself with another CA's
        // certificate: only the server side can refuse it.
        let other = try TestCluster(name: "other")
        let foreign = try other.authority.issue(nodeName: "stranger", role: "test", hosts: ["127.0.0.1"])
        var settings = try cluster.settings(
            "stranger", seeds: [.init(name: "server", host: "127.0.0.1", port: server.node.port)])
        settings.credentials = try ClusterCredentials(
            caPEM: cluster.authority.certificatePEM, certificatePEM: foreign.certificatePEM, keyPEM: foreign.keyPEM)
        let stranger = try await ClusterSystem.start(settings: settings)
        await #expect(throws: ClusterError.self) {
            _ = try await Greeter.resolve(id: greeter.id, using: stranger).greet("x")
        }
        #expect(!server.members.contains { $0.name == "stranger" })
        await stranger.shutdown()
        await server.shutdown()
    }

    @Test func plaintextIsRefusedLongBeforeTheHandshakeTimeout() async throws {
        let cluster = try TestCluster()
        var settings = try cluster.settings("server")
        settings.handshakeTimeout = .seconds(30)
        let server = try await ClusterSystem.start(settings: settings)
        let client = try await RawClient.connect(port: server.node.port, tls: nil)
        var junk = ByteBuffer()
        junk.writeString("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        try? await client.send(raw: junk)
        #expect(await client.closedWithin(.seconds(2)))
        await server.shutdown()
    }

    /// 1 000 connections that never finish a handshake: the node keeps at most its cap of them,
    /// closes the rest at once and the others at the handshake timeout, and answers real calls
    /// all the while.
    @Test func halfOpenConnectionsAreBoundedAndTimedOut() async throws {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < 4096 {
            limit.rlim_cur = min(limit.rlim_max, 8192)
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let cluster = try TestCluster()
        var settings = try cluster.settings("server")
        settings.maxUnauthenticatedConnections = 50
        settings.handshakeTimeout = .seconds(2)
        // Patient failure detection: a loaded machine must not drop the friend's connection, whose
        // re-dial the full cap would (rightly) turn away.
        settings.failureTimeout = .seconds(20)
        let server = try await ClusterSystem.start(settings: settings)
        let greeter = Greeter(actorSystem: server)
        var friendSettings = try cluster.settings(
            "friend", seeds: [.init(name: "server", host: "127.0.0.1", port: server.node.port)])
        friendSettings.failureTimeout = .seconds(20)
        let friend = try await ClusterSystem.start(settings: friendSettings)
        // Established before the flood: a full cap keeps new strangers out, not known peers.
        #expect(try await eventually { friend.members.first { $0.name == "server" }?.status == .up })
        func openDescriptors() -> Int {
            (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0
        }
        let baseline = openDescriptors()
        var sockets: [Int32] = []
        for _ in 0..<1000 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(server.node.port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if connected == 0 { sockets.append(fd) } else { close(fd) }
        }
        #expect(sockets.count > 900)
        try await Task.sleep(for: .milliseconds(300))
        #expect(server.unauthenticated.load(ordering: .relaxed) <= 50)
        // This process holds the 1 000 client ends; the node's side of them stays under its cap
        // (uncapped it would be ~1 000). The slack is for the other suites running in this process
        // at the same time, which open files and sockets of their own.
        let nodeSide = openDescriptors() - baseline - sockets.count
        #expect(nodeSide <= 50 + 100, "\(nodeSide) descriptors on the node's side")
        let remote = try Greeter.resolve(id: greeter.id, using: friend)
        #expect(try await remote.greet("through the crowd") == "Hello, through the crowd from server!")
        // Past the handshake timeout every one of them has been closed by the node.
        try await Task.sleep(for: .seconds(3))
        var closed = 0
        for fd in sockets {
            var byte: UInt8 = 0
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&poller, 1, 100) > 0, recv(fd, &byte, 1, Int32(MSG_DONTWAIT)) == 0 { closed += 1 }
            close(fd)
        }
        #expect(closed == sockets.count)
        #expect(server.unauthenticated.load(ordering: .relaxed) == 0)
        await friend.shutdown()
        await server.shutdown()
    }

    /// A caller that gives up tells the callee, whose task is cancelled: no work goes on for an
    /// answer nobody reads.
    @Test func aCallWhoseCallerTimedOutIsCancelledOnTheCallee() async throws {
        let cluster = try TestCluster()
        let server = try await cluster.start("server")
        let client = try await cluster.start("client", seeds: [server])
        let sleeper = Sleeper(actorSystem: server)
        let remote = try Sleeper.resolve(id: sleeper.id, using: client)
        let started = ContinuousClock.now
        await #expect(throws: ClusterError.self) {
            try await ClusterSystem.$callTimeout.withValue(.milliseconds(300)) { try await remote.nap() }
        }
        #expect(try await eventually(timeout: .seconds(10)) { try await sleeper.cancellations() == 1 })
        #expect(ContinuousClock.now - started < .seconds(15))
        await client.shutdown()
        await server.shutdown()
    }
}
