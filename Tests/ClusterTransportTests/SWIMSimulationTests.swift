import Testing

@testable import ClusterTransport

/// SWIM at the sizes the membership issue names, on the simulated network: what one node sends
/// does not grow with the cluster, news reaches everyone in a few periods, a paused node is not
/// judged `down`, and a dead one is, by everyone. Times here are virtual, not measured, so the
/// issue's goals can be asserted: a join seen by all in < 3 s, a death `down` everywhere within the
/// failure timeout + 2 s (5 s here: 3 s of suspicion after about two periods to notice), no false
/// verdict while a node is stopped for 2 s.
@Suite struct SWIMSimulationTests {
    static let failureTimeout: Duration = .seconds(5)

    static func messagesPerNodePerSecond(size: Int) -> Double {
        var simulation = SWIMSimulation(size: size)
        simulation.run(for: .seconds(5))
        let before = simulation.sent.values.reduce(0, +)
        simulation.run(for: .seconds(20))
        let after = simulation.sent.values.reduce(0, +)
        #expect(simulation.downVerdicts.isEmpty)
        #expect(
            simulation.names.allSatisfy { simulation.count($0, .suspect) == 0 }, "a healthy cluster suspects no one")
        return Double(after - before) / Double(size) / 20
    }

    @Test func whatANodeSendsDoesNotGrowWithTheCluster() {
        let small = Self.messagesPerNodePerSecond(size: 16)
        let large = Self.messagesPerNodePerSecond(size: 256)
        #expect(large / small < 1.2, "16 nodes: \(small)/s, 256 nodes: \(large)/s")
        // One probe and its ack each way a period, a little more for indirect probes.
        #expect(large < 12, "\(large)/s")
    }

    @Test(arguments: [1, 2, 3] as [UInt64])
    func atTwoHundredFiftySixNodesJoinPauseAndDeathMeetTheGoals(seed: UInt64) throws {
        var simulation = SWIMSimulation(size: 256, seed: seed)
        simulation.run(for: .seconds(5))

        // Stopped for 2 s (SIGSTOP, a long pause): suspected perhaps, judged down by no one.
        simulation.pause("n5", for: .seconds(2))
        simulation.run(for: .seconds(10))
        #expect(simulation.downVerdicts.isEmpty, "\(simulation.downVerdicts.prefix(5))")
        #expect(simulation.count("n5", .alive) == 255)

        simulation.join("joiner", through: "n0")
        let joined = try #require(simulation.time(within: .seconds(30)) { $0.count("joiner", .alive) == 256 })
        #expect(joined < .seconds(3))

        simulation.kill("n9")
        let detected = try #require(simulation.time(within: .seconds(30)) { $0.count("n9", .down) == 256 })
        #expect(detected <= Self.failureTimeout + .seconds(2))
        #expect(simulation.settings.suspicionTimeout <= Self.failureTimeout - .seconds(2))
        #expect(Set(simulation.downVerdicts.map(\.subject)) == ["n9"], "only the dead node is judged down")
    }

    /// A cluster formed as the membership benchmark forms one: every node joins through one seed
    /// within two seconds, taking the seed's member list. Gossip alone must then bring every node
    /// to know every other (on the rings a node talks to a few members, so no probe of its own
    /// makes up for news it missed).
    @Test(arguments: [64, 256])
    func aClusterJoiningThroughOneSeedConverges(size: Int) throws {
        var simulation = SWIMSimulation(size: 0, seed: 11)
        simulation.startAlone("n0")
        for index in 1..<size {
            simulation.run(for: .milliseconds(2000 / size))
            simulation.joinWithMemberList("n\(index)", through: "n0")
        }
        let names = simulation.names
        let formed = simulation.time(within: .seconds(60)) { simulation in
            names.allSatisfy { simulation.count($0, .alive) == size - 1 }
        }
        let missing = names.map { (name: $0, seen: simulation.count($0, .alive)) }.filter { $0.seen < size - 1 }
        #expect(formed != nil, "not seen alive by all: \(missing.prefix(8))")
        #expect(simulation.downVerdicts.isEmpty)
    }
}
