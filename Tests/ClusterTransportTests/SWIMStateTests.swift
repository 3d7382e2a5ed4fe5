import Testing

@testable import ClusterTransport

/// What a node keeps of the members' addresses and registrations, as gossip and handshakes
/// bring them.
@Suite struct SWIMStateTests {
    /// A certified peer gossiping a member at `UInt64.max` with a wrong address: held, no true
    /// gossip (always at a lower incarnation) could ever replace it, and this node would dial the
    /// wrong address for good.
    @Test func anAddressAtAnIncarnationBeyondTheClockIsNotHeld() {
        let start = ContinuousClock.now
        let me = ClusterNode(name: "me", host: "127.0.0.1", port: 7000, incarnation: 1)
        var state = SWIMState(
            local: me, role: "coordinator", settings: SWIMDetector<SystemRandomNumberGenerator>.Settings(),
            incarnation: 1_000)
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
}
