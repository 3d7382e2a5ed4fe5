import Testing

@testable import ClusterTransport

/// What a node keeps of the members' addresses and registrations, as gossip and handshakes
/// bring them.
@Suite struct SWIMStateTests {
    /// The state of a coordinator `me` (its SWIM incarnation 1 000) with default settings.
    static func state(maxMembers: Int? = nil) -> SWIMState {
        var settings = SWIMDetector<SystemRandomNumberGenerator>.Settings()
        if let maxMembers { settings.maxMembers = maxMembers }
        let me = ClusterNode(name: "me", host: "127.0.0.1", port: 7000, incarnation: 1)
        return SWIMState(local: me, role: "coordinator", settings: settings, incarnation: 1_000)
    }

    /// A certified peer gossiping a member at `UInt64.max` with a wrong address: held, no true
    /// gossip (always at a lower incarnation) could ever replace it, and this node would dial the
    /// wrong address for good.
    @Test func anAddressAtAnIncarnationBeyondTheClockIsNotHeld() {
        let start = ContinuousClock.now
        var state = Self.state()
        func gossip(port: Int, incarnation: UInt64) -> SWIMPacket.Gossip {
            SWIMPacket.Gossip(
                node: ClusterNode(name: "w", host: "127.0.0.1", port: port, incarnation: 9), role: "worker",
                incarnation: incarnation, status: 0)
        }
        let first = state.heardOf(gossip(port: 7001, incarnation: 5), now: start)
        #expect(first)
        let forged = state.heardOf(gossip(port: 6666, incarnation: .max), now: start)
        #expect(!forged)
        #expect(state.directory["w"]?.node.port == 7001)
        // True news, at a higher incarnation within the clock's reach, still replaces it.
        let newer = state.heardOf(gossip(port: 7002, incarnation: 6), now: start)
        #expect(newer)
        #expect(state.directory["w"]?.node.port == 7002)
    }

    /// Gossip cannot move a member whose process this node holds a connection to (it proved
    /// itself in its handshake); without a connection, gossip at a higher incarnation is all there
    /// is to go by, and is taken.
    @Test func gossipDoesNotMoveAMemberThisNodeIsConnectedTo() {
        let start = ContinuousClock.now
        var state = Self.state()
        let live = ClusterNode(name: "w", host: "127.0.0.1", port: 7001, incarnation: 9)
        state.met(live, role: "worker", incarnation: 5)
        let elsewhere = SWIMPacket.Gossip(
            node: ClusterNode(name: "w", host: "127.0.0.1", port: 6666, incarnation: 10), role: "worker",
            incarnation: 6, status: 0)
        let moved = state.heardOf(elsewhere, now: start, connected: [live])
        #expect(!moved)
        #expect(state.directory["w"]?.node == live)
        // The same news about the process this node is connected to is still taken.
        var news = SWIMPacket.Gossip(node: live, role: "worker", incarnation: 6, status: 0, stateVersion: 3)
        news.keys = ["page-worker"]
        let taken = state.heardOf(news, now: start, connected: [live])
        #expect(taken)
        #expect(state.directory["w"]?.keys == ["page-worker"])
        // Once that connection is gone, a newer incarnation elsewhere is taken.
        let later = SWIMPacket.Gossip(
            node: ClusterNode(name: "w", host: "127.0.0.1", port: 7002, incarnation: 11), role: "worker",
            incarnation: 7, status: 0)
        let after = state.heardOf(later, now: start, connected: [])
        #expect(after)
        #expect(state.directory["w"]?.node.port == 7002)
    }

    /// A full address directory makes room the way the detector does: the member `down` longest
    /// goes from both, and the system is told so it forgets the member too.
    @Test func aFullDirectoryLetsGoOfTheMemberDownLongest() {
        let start = ContinuousClock.now
        var state = Self.state(maxMembers: 3)
        func gossip(_ name: String, port: Int) -> SWIMPacket.Gossip {
            SWIMPacket.Gossip(
                node: ClusterNode(name: name, host: "127.0.0.1", port: port, incarnation: 9), role: "worker",
                incarnation: 5, status: 0)
        }
        for (index, name) in ["a", "b"].enumerated() {
            let taken = state.heardOf(gossip(name, port: 7001 + index), now: start)
            #expect(taken)
            _ = state.detector.add(name, incarnation: 5, now: start)
        }
        // The directory (this node and two members) is full, and nobody is down: refused.
        let refused = state.heardOf(gossip("c", port: 7003), now: start)
        #expect(!refused)
        _ = state.detector.left("a", now: start + .seconds(1))
        let taken = state.heardOf(gossip("c", port: 7003), now: start + .seconds(2))
        #expect(taken)
        #expect(Set(state.directory.keys) == ["me", "b", "c"])
        #expect(state.detector.members["a"] == nil)
        let forgotten = state.takeForgotten()
        #expect(forgotten == ["a"])
        let again = state.takeForgotten()
        #expect(again.isEmpty)
    }
}
