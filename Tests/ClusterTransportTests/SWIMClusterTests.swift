import Distributed
import Foundation
import NIOPosix
import Testing

@testable import ClusterTransport

/// `membershipProtocol = .swim` over real mutual TLS on loopback: the detector's verdicts are the
/// members' statuses, gossip carries who exists, and connections are made when something is sent.
@Suite("SWIM membership over the transport")
struct SWIMClusterTests {
    private func swimCluster(failureTimeout: Duration = .seconds(5)) throws -> TestCluster {
        var cluster = try TestCluster()
        cluster.failureTimeout = failureTimeout
        cluster.membership = .swim
        return cluster
    }

    private func statuses(of name: String, in systems: [ClusterSystem]) -> [MemberStatus?] {
        systems.map { system in system.members.first { $0.name == name }?.status }
    }

    /// Five nodes join through one seed: each learns of the others from gossip and the seed's
    /// member list. One dies without a word: every survivor ends with it `down`, and with its
    /// actors gone from the listing.
    @Test func membersLearnOfEachOtherAndADeadOneIsDownEverywhere() async throws {
        let cluster = try swimCluster()
        let seed = try await cluster.start("seed")
        var systems = [seed]
        for index in 1...4 { systems.append(try await cluster.start("node-\(index)", seeds: [seed])) }
        let names = Set(systems.map(\.node.name))
        let formed = try await eventually(timeout: .seconds(20)) {
            systems.allSatisfy { system in Set(system.members.filter { $0.status == .up }.map(\.name)) == names }
        }
        #expect(formed, "views: \(systems.map { ($0.node.name, $0.members.map { "\($0.name):\($0.status)" }) })")

        let victim = systems[4]
        let greeter = Greeter(actorSystem: victim)
        victim.receptionist.register(greeter, key: "greeter")
        // The seed has a connection to the victim (it dialled in), so it hears the registration.
        #expect(try await eventually { seed.receptionist.lookup("greeter").count == 1 })

        await victim.shutdown(announcing: false)
        let survivors = Array(systems.prefix(4))
        let downEverywhere = try await eventually(timeout: .seconds(20)) {
            statuses(of: victim.node.name, in: survivors).allSatisfy { $0 == .down }
        }
        #expect(downEverywhere, "\(statuses(of: victim.node.name, in: survivors))")
        #expect(seed.receptionist.lookup("greeter").isEmpty)
        // Nobody else was taken for dead on the way.
        for system in survivors {
            let others = system.members.filter { !$0.isLocal && $0.name != victim.node.name }
            #expect(others.allSatisfy { $0.status == .up }, "\(system.node.name): \(others)")
        }
        _ = greeter
        for system in survivors { await system.shutdown() }
    }

    /// What a node sends does not grow with the number of its peers: one probe and one ack a
    /// period, not a heartbeat to each (connections made for probing are not pinged).
    @Test func aNodeSendsAProbeAndAnAckAPeriodNotAHeartbeatToEachPeer() async throws {
        let cluster = try swimCluster()
        let seed = try await cluster.start("seed")
        var systems = [seed]
        for index in 1...7 { systems.append(try await cluster.start("node-\(index)", seeds: [seed])) }
        #expect(
            try await eventually(timeout: .seconds(20)) {
                systems.allSatisfy { system in system.members.filter { $0.status == .up }.count == 8 }
            })
        let before = systems.map(\.traffic.framesSent).reduce(0, +)
        let started = ContinuousClock.now
        try await Task.sleep(for: .seconds(3))
        let sent = Double(systems.map(\.traffic.framesSent).reduce(0, +) - before)
        let elapsed = ContinuousClock.now - started
        let perNodeSecond =
            sent / Double(systems.count)
            / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        // A probe and an ack every 200 ms is 10 a second; heartbeats to 7 peers every 100 ms (as
        // the full mesh sends) would add 70.
        #expect(perNodeSecond < 30, "\(perNodeSecond) frames a node a second")
        for system in systems { await system.shutdown() }
    }

    /// Registrations are not gossiped, their versions are: a node that looks a key up fetches the
    /// registrations from their owner, though it joined through another node and never called it,
    /// and sees them go when the owner deregisters.
    @Test func registrationsReachTheNodesThatLookThemUp() async throws {
        let cluster = try swimCluster()
        // The seed probes every member in turn (no rings): in a cluster of three, both others
        // might otherwise sit on no ring after it, and nobody active would ever hear the owner.
        var seedSettings = try cluster.settings("seed")
        seedSettings.probeRings = 0
        let seed = try await ClusterSystem.start(settings: seedSettings)
        // The watcher and the owner probe at most once in ten minutes: what the watcher learns of
        // the owner comes from the seed's gossip and its own pull, not from a probe of its own.
        func quiet(_ name: String) throws -> ClusterSettings {
            var settings = try cluster.settings(
                name, seeds: [.init(name: "seed", host: "127.0.0.1", port: seed.node.port)])
            settings.probeInterval = .seconds(600)
            return settings
        }
        let watcher = try await ClusterSystem.start(settings: quiet("watcher"))
        #expect(watcher.receptionist.lookup("greeter").isEmpty)
        // Joins through the seed, after the watcher: nothing but gossip tells the watcher of it.
        let owner = try await ClusterSystem.start(settings: quiet("owner"))
        let greeter = Greeter(actorSystem: owner)
        owner.receptionist.register(greeter, key: "greeter")

        #expect(try await eventually(timeout: .seconds(20)) { watcher.receptionist.lookup("greeter") == [greeter.id] })
        let remote = try Greeter.resolve(id: greeter.id, using: watcher)
        #expect(try await remote.greet("w") == "Hello, w from owner!")

        owner.receptionist.deregister(greeter, key: "greeter")
        #expect(try await eventually(timeout: .seconds(20)) { watcher.receptionist.lookup("greeter").isEmpty })
        await owner.shutdown()
        await watcher.shutdown()
        await seed.shutdown()
    }

    /// A dialled connection nothing is sent on is closed after the idle timeout, without the peer
    /// being taken for gone; a call dials again, and a call longer than the idle timeout keeps
    /// its connection.
    @Test func connectionsAreOpenedOnDemandAndClosedWhenIdle() async throws {
        let cluster = try swimCluster()
        var serverSettings = try cluster.settings("server")
        // One probe, then none for a minute: only calls use the connection afterwards.
        serverSettings.probeInterval = .seconds(60)
        serverSettings.idleConnectionTimeout = .milliseconds(600)
        let server = try await ClusterSystem.start(settings: serverSettings)
        let greeter = ClusterSystem.$actorPath.withValue("greeter") { Greeter(actorSystem: server) }
        server.receptionist.register(greeter, key: "greeter")

        var clientSettings = try cluster.settings(
            "client", seeds: [.init(name: "server", host: "127.0.0.1", port: server.node.port)])
        clientSettings.probeInterval = .seconds(60)
        clientSettings.idleConnectionTimeout = .milliseconds(600)
        let client = try await ClusterSystem.start(settings: clientSettings)
        #expect(try await eventually { client.receptionist.lookup("greeter").count == 1 })
        #expect(client.traffic.openConnections >= 1)

        // Idle: closed on both sides, and still `up` (an idle link is no sign of trouble).
        #expect(
            try await eventually(timeout: .seconds(15)) {
                client.traffic.openConnections == 0 && server.traffic.openConnections == 0
            })
        #expect(client.members.first { $0.name == "server" }?.status == .up)
        #expect(client.receptionist.lookup("greeter").count == 1)

        // A call dials again; one that outlasts the idle timeout is not cut.
        let remote = try Greeter.resolve(id: try #require(client.receptionist.lookup("greeter").first), using: client)
        #expect(try await remote.greet("again") == "Hello, again from server!")
        #expect(try await remote.sleep(milliseconds: 2000) == 2000)
        #expect(client.traffic.openConnections == 1)

        await client.shutdown()
        await server.shutdown()
    }

    /// A node whose event loop stops for less than the suspicion timeout is suspected at most, never
    /// `down`; one stopped for longer is `down`, and taken back once it speaks again (it hears the
    /// verdict and refutes it with a new incarnation).
    @Test func aPausedNodeIsNotDownedAndALongPauseIsForgivenWhenItSpeaksAgain() async throws {
        let cluster = try swimCluster(failureTimeout: .seconds(5))
        let watcher = try await cluster.start("watcher")
        let other = try await cluster.start("other", seeds: [watcher])
        let settings = try cluster.settings(
            "sleeper", seeds: [.init(name: "watcher", host: "127.0.0.1", port: watcher.node.port)])
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let sleeper = try await ClusterSystem.start(settings: settings, group: loop)
        let observers = [watcher, other]
        #expect(
            try await eventually(timeout: .seconds(15)) {
                statuses(of: "sleeper", in: observers).allSatisfy { $0 == .up }
            })

        var updates = watcher.membershipUpdates().makeAsyncIterator()
        loop.next().execute { Thread.sleep(forTimeInterval: 1.5) }
        var seen: [MemberStatus] = []
        let calm = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < calm, let members = await updates.next() {
            if let status = members.first(where: { $0.name == "sleeper" })?.status, status != seen.last {
                seen.append(status)
            }
            if seen.last == .up, seen.count > 1 { break }
        }
        #expect(!seen.contains(.down), "\(seen)")

        loop.next().execute { Thread.sleep(forTimeInterval: 8) }
        #expect(
            try await eventually(timeout: .seconds(12)) {
                statuses(of: "sleeper", in: observers).allSatisfy { $0 == .down }
            })
        #expect(
            try await eventually(timeout: .seconds(15)) {
                statuses(of: "sleeper", in: observers).allSatisfy { $0 == .up }
            }, "\(statuses(of: "sleeper", in: observers))")
        await sleeper.shutdown()
        await other.shutdown()
        await watcher.shutdown()
        try await loop.shutdownGracefully()
    }
}
