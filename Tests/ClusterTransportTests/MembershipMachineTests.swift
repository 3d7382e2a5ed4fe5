import Foundation
import NIOCore
import Testing

@testable import ClusterTransport

/// The membership state machine on its own: events in, state and actions out, a clock of the
/// test's own and plain objects for connections. No sockets.
@Suite struct MembershipMachineTests {
    final class Link {}
    typealias Machine = Membership<Link>

    static let timing = Machine.Timing(
        heartbeatInterval: .milliseconds(100), failureTimeout: .seconds(3), suspectTimeout: .seconds(1),
        maximumReconnectBackoff: .seconds(2))

    static func hello(_ name: String, incarnation: UInt64 = 1, role: String = "worker") -> Hello {
        Hello(
            node: ClusterNode(name: name, host: "127.0.0.1", port: 7000, incarnation: incarnation), role: role,
            state: ByteBuffer())
    }

    static func state(version: UInt64, registrations: [String: [String]] = [:], members: [NodeState.KnownNode] = [])
        -> NodeState
    {
        NodeState(version: version, registrations: registrations, members: members)
    }

    let start = ContinuousClock.now

    @Test func aSeedIsDialledThenUpThenPinged() {
        var machine = Machine(localName: "me", timing: Self.timing)
        machine.addSeed(name: "coordinator", host: "127.0.0.1", port: 7000, now: start)
        let first = machine.tick(now: start)
        #expect(first.dials == [.init(name: "coordinator", host: "127.0.0.1", port: 7000)])
        let second = machine.tick(now: start + .milliseconds(100))
        #expect(second.dials.isEmpty)  // already connecting
        let link = Link()
        let outcome = machine.dialSucceeded(
            link, hello: Self.hello("coordinator", role: "coordinator"), seedIndex: nil, now: start)
        #expect(outcome.keep && outcome.stale == nil)
        #expect(machine.record("coordinator")?.status == .up)
        let tick = machine.tick(now: start + .milliseconds(200))
        #expect(tick.pings.count == 1 && tick.pings[0].0 === link)
        let changed = machine.vouchedForChanged()
        let changedAgain = machine.vouchedForChanged()
        #expect(changed && !changedAgain)
    }

    @Test func silenceMakesSuspectThenDownAndHearingMakesUpAgain() {
        var machine = Machine(localName: "me", timing: Self.timing)
        let link = Link()
        _ = machine.dialSucceeded(link, hello: Self.hello("w"), seedIndex: nil, now: start)
        let early = machine.tick(now: start + .milliseconds(500))
        #expect(early.downed.isEmpty)
        #expect(machine.record("w")?.status == .up)
        _ = machine.tick(now: start + .milliseconds(1500))
        #expect(machine.record("w")?.status == .suspect)
        let down = machine.tick(now: start + .seconds(3))
        #expect(down.downed == ["w"])
        #expect(down.closing.count == 1 && down.closing[0] === link)  // its silent connection is closed
        #expect(machine.record("w")?.status == .down)
        // Its own word (a dial that succeeds again) brings it back; nobody else's can.
        let again = Link()
        _ = machine.dialSucceeded(again, hello: Self.hello("w"), seedIndex: nil, now: start + .seconds(4))
        #expect(machine.record("w")?.status == .up)
        // A non-seed down long enough is forgotten.
        _ = machine.tick(now: start + .seconds(8))
        _ = machine.tick(now: start + .seconds(20))
        #expect(machine.record("w") == nil)
    }

    @Test func onlyANodeItselfCanSayItIsLeaving() {
        var machine = Machine(localName: "me", timing: Self.timing)
        let link = Link()
        _ = machine.dialSucceeded(
            link, hello: Self.hello("coordinator", role: "coordinator"), seedIndex: nil, now: start)
        _ = machine.accepted(Self.hello("mallory"), now: start)
        let coordinator = Self.hello("coordinator", role: "coordinator").node
        let spoof = machine.leaving(coordinator, announcedBy: Self.hello("mallory").node, now: start)
        #expect(!spoof.accepted && spoof.close == nil)
        #expect(machine.record("coordinator")?.status == .up)
        // A stale incarnation's goodbye is not the current node's either.
        let old = ClusterNode(name: "coordinator", host: "127.0.0.1", port: 7000, incarnation: 99)
        let stale = machine.leaving(old, announcedBy: old, now: start)
        #expect(!stale.accepted)
        let real = machine.leaving(coordinator, announcedBy: coordinator, now: start)
        #expect(real.accepted && real.close === link)
        #expect(machine.record("coordinator") == nil)
    }

    @Test func aRestartUnderTheSameNameStartsFromNothing() {
        var machine = Machine(localName: "me", timing: Self.timing)
        let old = Link()
        _ = machine.dialSucceeded(old, hello: Self.hello("w", incarnation: 1), seedIndex: nil, now: start)
        machine.apply(
            Self.state(version: 5, registrations: ["page-worker": ["PageWorker-1"]]), from: "w", incarnation: 1,
            now: start)
        #expect(machine.record("w")?.registrations["page-worker"] == ["PageWorker-1"])
        let stale = machine.accepted(Self.hello("w", incarnation: 2), now: start + .seconds(1))
        #expect(stale === old)
        #expect(machine.record("w")?.registrations.isEmpty == true)
        #expect(machine.record("w")?.incarnation == 2)
        // The old incarnation's words no longer count; the new one's version 1 does.
        machine.apply(
            Self.state(version: 6, registrations: ["page-worker": ["Old"]]), from: "w", incarnation: 1, now: start)
        #expect(machine.record("w")?.registrations.isEmpty == true)
        machine.apply(
            Self.state(version: 1, registrations: ["page-worker": ["PageWorker-1"]]), from: "w", incarnation: 2,
            now: start)
        #expect(machine.record("w")?.registrations["page-worker"] == ["PageWorker-1"])
        // Routing to the old incarnation's actor is refused as gone.
        let route = machine.route(to: Self.hello("w", incarnation: 1).node, now: start)
        guard case .failure(.actorGone) = route else {
            Issue.record("an actor of the old incarnation was routed")
            return
        }
    }

    @Test func nodeStateOnlyMovesForward() {
        var machine = Machine(localName: "me", timing: Self.timing)
        _ = machine.accepted(Self.hello("w"), now: start)
        machine.apply(
            Self.state(version: 7, registrations: ["page-worker": ["A", "B"]]), from: "w", incarnation: 1, now: start)
        machine.apply(
            Self.state(version: 3, registrations: ["page-worker": ["A"]]), from: "w", incarnation: 1, now: start)
        #expect(machine.record("w")?.registrations["page-worker"] == ["A", "B"])
        machine.apply(Self.state(version: 8, registrations: [:]), from: "w", incarnation: 1, now: start)
        #expect(machine.record("w")?.registrations.isEmpty == true)
    }

    @Test func registrationsFollowTheRoleAndGossipCannotGrantOne() {
        var machine = Machine(
            localName: "gateway", timing: Self.timing, registrationRoles: ["coordinator": ["coordinator"]])
        _ = machine.accepted(Self.hello("worker-1", role: "worker"), now: start)
        let refused = machine.apply(
            Self.state(
                version: 1, registrations: ["coordinator": ["Fake-1"], "page-worker": ["PageWorker-1"]],
                members: [
                    .init(
                        node: ClusterNode(name: "other", host: "10.0.0.9", port: 1, incarnation: 5), role: "coordinator"
                    )
                ]),
            from: "worker-1", incarnation: 1, now: start)
        #expect(refused == ["coordinator"])
        #expect(machine.record("worker-1")?.registrations.keys.sorted() == ["page-worker"])
        // A gossiped node is only a name to dial: unknown incarnation, no registrations, not up.
        let gossiped = machine.record("other")
        #expect(gossiped?.incarnation == nil && gossiped?.registrations.isEmpty == true && gossiped?.status != .up)
        // Logged once only.
        let again = machine.apply(
            Self.state(version: 2, registrations: ["coordinator": ["Fake-1"]]), from: "worker-1", incarnation: 1,
            now: start)
        #expect(again.isEmpty)
    }

    @Test func failedDialsBackOffAndJoinSeedsAreDialledByAddress() {
        var machine = Machine(localName: "me", timing: Self.timing)
        machine.addSeed(name: nil, host: "127.0.0.1", port: 7400, now: start)
        let first = machine.tick(now: start)
        #expect(first.dials == [.init(name: nil, host: "127.0.0.1", port: 7400, seedIndex: 0)])
        let news = machine.dialFailed(name: nil, seedIndex: 0, message: "refused", now: start)
        let repeated = machine.dialFailed(name: nil, seedIndex: 0, message: "refused", now: start)
        #expect(news && !repeated)
        let backingOff = machine.tick(now: start + .milliseconds(50))
        #expect(backingOff.dials.isEmpty)
        let due = machine.tick(now: start + .milliseconds(250))
        #expect(due.dials.count == 1)
        let joined = machine.dialSucceeded(
            Link(), hello: Self.hello("coordinator", role: "coordinator"), seedIndex: 0, now: start)
        #expect(joined.keep)
        #expect(machine.record("coordinator")?.isSeed == true)
        #expect(machine.joinSeeds[0].isJoined)
        // A second connection racing the first is not kept.
        let racing = machine.dialSucceeded(
            Link(), hello: Self.hello("coordinator", role: "coordinator"), seedIndex: nil, now: start)
        #expect(!racing.keep)
    }
}
