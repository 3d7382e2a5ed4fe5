import Distributed
import Foundation
import NIOPosix
import Testing

@testable import ClusterTransport

@Suite("Membership and receptionist")
struct MembershipTests {
    @Test func threeNodesFindEachOthersActorsThroughGossip() async throws {
        // Gossip, not failure detection: a starved start must not take the hub for dead.
        var cluster = try TestCluster()
        cluster.failureTimeout = .seconds(20)
        let hub = try await cluster.start("hub")
        let left = try await cluster.start("left", seeds: [hub])
        let right = try await cluster.start("right", seeds: [hub])

        let a = Greeter(actorSystem: left)
        let b = Greeter(actorSystem: right)
        left.receptionist.register(a, key: "greeter")
        right.receptionist.register(b, key: "greeter")

        // `left` never dialled `right`: it learns of it from the hub's gossip.
        #expect(try await eventually { left.receptionist.lookup("greeter").count == 2 })
        #expect(try await eventually { hub.receptionist.lookup("greeter").count == 2 })
        let ids = left.receptionist.lookup("greeter")
        let viaLeft = try Greeter.resolve(id: try #require(ids.first { $0.node.name == "right" }), using: left)
        #expect(try await viaLeft.greet("x") == "Hello, x from right!")

        #expect(
            try await eventually {
                Set(left.members.filter { $0.status == .up }.map(\.name)) == ["hub", "left", "right"]
            })

        // A listing subscriber sees the node leave.
        var updates = hub.receptionist.listing("greeter").makeAsyncIterator()
        #expect(await updates.next()?.count == 2)
        await right.shutdown()
        #expect(await updates.next()?.map(\.node.name) == ["left"])
        _ = (a, b)
        await left.shutdown()
        await hub.shutdown()
    }

    /// Silence with the socket still open, as a stopped process (SIGSTOP) or a partition gives:
    /// the node's only event loop is blocked, so it neither pings nor answers, and nothing closes.
    @Test func silentNodeGoesSuspectThenDownAndComesBack() async throws {
        let cluster = try TestCluster()
        let watcher = try await cluster.start("watcher")
        var settings = try cluster.settings(
            "flaky", seeds: [.init(name: "watcher", host: "127.0.0.1", port: watcher.node.port)])
        settings.heartbeatInterval = .milliseconds(100)
        let loop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let flaky = try await ClusterSystem.start(settings: settings, group: loop)
        #expect(try await eventually { watcher.members.first { $0.name == "flaky" }?.status == .up })

        var updates = watcher.membershipUpdates().makeAsyncIterator()
        loop.next().execute { Thread.sleep(forTimeInterval: 5) }
        var seen: [MemberStatus] = []
        let deadline = ContinuousClock.now + .seconds(5)
        while ContinuousClock.now < deadline, seen.last != .down, let members = await updates.next() {
            if let status = members.first(where: { $0.name == "flaky" })?.status, status != seen.last {
                seen.append(status)
            }
        }
        #expect(seen.suffix(2) == [.suspect, .down])
        // Thawed, it is heard again and up: `down` was the watcher's opinion, not a verdict.
        #expect(
            try await eventually(timeout: .seconds(15)) { watcher.members.first { $0.name == "flaky" }?.status == .up })
        await flaky.shutdown()
        await watcher.shutdown()
        try await loop.shutdownGracefully()
    }
}
