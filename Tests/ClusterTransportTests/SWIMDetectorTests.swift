import Testing

@testable import ClusterTransport

/// SWIM's failure detector without sockets: a clock of our own and a seeded random source.
@Suite struct SWIMDetectorTests {
    typealias Detector = SWIMDetector<SplitMix>

    /// The times these tests step through: a 500 ms period, 200 ms to answer, 3 s of suspicion.
    static let settings = {
        var settings = Detector.Settings()
        settings.probeInterval = .milliseconds(500)
        settings.probeTimeout = .milliseconds(200)
        settings.suspicionTimeout = .seconds(3)
        return settings
    }()

    static func detector(_ name: String, members: [String], seed: UInt64 = 1) -> (Detector, ContinuousClock.Instant) {
        var detector = Detector(name: name, settings: settings, random: SplitMix(seed: seed))
        let start = ContinuousClock.now
        for member in members { _ = detector.add(member, now: start) }
        return (detector, start)
    }

    static func pings(_ actions: [Detector.Action]) -> [(sequence: UInt64, to: String, updates: [Detector.Update])] {
        actions.compactMap {
            if case .send(.ping(let sequence, let updates), let to) = $0 { return (sequence, to, updates) }
            return nil
        }
    }

    /// Ticks `periods` probe periods from `start`, every probe answered at once: who was probed.
    static func probedWhenAllAnswer(_ detector: inout Detector, from start: ContinuousClock.Instant, periods: Int)
        -> Set<String>
    {
        var probed: Set<String> = []
        for period in 0..<periods {
            let now = start + .milliseconds(500 * period)
            for ping in pings(detector.tick(now: now)) {
                probed.insert(ping.to)
                _ = detector.receive(.ack(sequence: ping.sequence, updates: []), from: ping.to, now: now)
            }
        }
        return probed
    }

    static func changes(_ actions: [Detector.Action]) -> [Detector.Update] {
        actions.compactMap {
            if case .changed(let update) = $0 { return update }
            return nil
        }
    }

    @Test func eachPeriodProbesOneMemberAndEveryMemberOncePerPass() {
        let others = (1...10).map { "n\($0)" }
        var settings = Self.settings
        settings.probeRings = 0  // SWIM's paper: every member in turn
        var detector = Detector(name: "me", settings: settings, random: SplitMix(seed: 1))
        let start = ContinuousClock.now
        for member in others { _ = detector.add(member, now: start) }
        var probed: [String] = []
        for period in 0..<10 {
            let now = start + .milliseconds(500 * period)
            let sent = Self.pings(detector.tick(now: now))
            #expect(sent.count == 1)  // one probe a period, however many members
            probed += sent.map(\.to)
            for ping in sent {
                _ = detector.receive(.ack(sequence: ping.sequence, updates: []), from: ping.to, now: now)
            }
        }
        #expect(Set(probed) == Set(others))  // a pass covers every member once
    }

    @Test func aSilentMemberIsProbedIndirectlyThenSuspectedThenDown() {
        var (detector, start) = Self.detector("me", members: ["a", "b", "c", "d"])
        var now = start
        var ping = Self.pings(detector.tick(now: now))[0]
        let silent = ping.to
        now += .milliseconds(250)  // past the probe timeout: k others are asked
        let requests = detector.tick(now: now).compactMap { action -> String? in
            if case .send(.pingRequest(_, let target, _), let helper) = action, target == silent { return helper }
            return nil
        }
        #expect(requests.count == 3)
        #expect(!requests.contains(silent))
        now += .milliseconds(500)  // nobody answered within the period: suspect
        let changes = Self.changes(detector.tick(now: now))
        #expect(changes.contains(.init(name: silent, incarnation: 0, status: .suspect)))
        #expect(detector.members[silent]?.status == .suspect)
        // The suspicion outlasts its timeout: down, by this node's own verdict.
        now += .seconds(3)
        ping = Self.pings(detector.tick(now: now)).first ?? ping
        #expect(detector.members[silent]?.status == .down)
        // A down member is not probed any more.
        for period in 1...8 {
            #expect(!Self.pings(detector.tick(now: now + .milliseconds(500 * period))).contains { $0.to == silent })
        }
    }

    @Test func anAckPassedOnByAHelperKeepsTheMemberAlive() {
        var (detector, start) = Self.detector("me", members: ["a", "b", "c", "d"])
        let ping = Self.pings(detector.tick(now: start))[0]
        let asked = detector.tick(now: start + .milliseconds(250)).compactMap { action -> String? in
            if case .send(.pingRequest, let helper) = action { return helper }
            return nil
        }
        // An ack from someone not asked does not count; one from a helper does.
        let stranger = ["a", "b", "c", "d"].first { $0 != ping.to && !asked.contains($0) }
        if let stranger {
            _ = detector.receive(.ack(sequence: ping.sequence, updates: []), from: stranger, now: start)
        }
        _ = detector.receive(
            .ack(sequence: ping.sequence, updates: []), from: asked[0], now: start + .milliseconds(300))
        #expect(Self.changes(detector.tick(now: start + .milliseconds(800))).isEmpty)
        #expect(detector.members[ping.to]?.status == .alive)
    }

    @Test func aHelperProbesForTheRequesterAndPassesTheAckBack() {
        var (helper, start) = Self.detector("h", members: ["me", "target"])
        let forwarded = Self.pings(
            helper.receive(.pingRequest(sequence: 42, target: "target", updates: []), from: "me", now: start))
        #expect(forwarded.map(\.to) == ["target"])
        let back = helper.receive(.ack(sequence: forwarded[0].sequence, updates: []), from: "target", now: start)
        #expect(
            back.contains(.send(.ack(sequence: 42, updates: []), to: "me"))
                || back.contains {
                    if case .send(.ack(42, _), "me") = $0 { return true }
                    return false
                })
        // A request about itself, or about a stranger, is not acted on.
        #expect(
            Self.pings(helper.receive(.pingRequest(sequence: 1, target: "h", updates: []), from: "me", now: start))
                .isEmpty)
        #expect(
            Self.pings(helper.receive(.pingRequest(sequence: 2, target: "nobody", updates: []), from: "me", now: start))
                .isEmpty)
    }

    @Test func aSuspectedNodeRefutesWithAHigherIncarnation() {
        var (node, start) = Self.detector("x", members: ["y"])
        #expect(node.incarnation == 0)
        let replies = node.receive(
            .ping(sequence: 7, updates: [.init(name: "x", incarnation: 0, status: .suspect)]), from: "y", now: start)
        #expect(node.incarnation == 1)
        let carried =
            replies.compactMap { action -> [Detector.Update]? in
                if case .send(.ack(7, let updates), "y") = action { return updates }
                return nil
            }.first ?? []
        #expect(carried.contains(.init(name: "x", incarnation: 1, status: .alive)))
        // Old news about it changes nothing; a `down` about it is refuted the same way.
        _ = node.receive(
            .ping(sequence: 8, updates: [.init(name: "x", incarnation: 0, status: .suspect)]), from: "y", now: start)
        #expect(node.incarnation == 1)
        _ = node.receive(
            .ping(sequence: 9, updates: [.init(name: "x", incarnation: 1, status: .down)]), from: "y", now: start)
        #expect(node.incarnation == 2)
    }

    /// A certified peer making up incarnations: believed, a suspicion at `UInt64.max` would leave
    /// its subject nothing to refute with, and it would end `down` everywhere for good.
    @Test func incarnationsBeyondTheClockAreNotBelieved() {
        var settings = Self.settings
        settings.incarnationLead = 1_000_000  // 1 s ahead of this node's clock at most
        let start = ContinuousClock.now
        var me = Detector(name: "me", incarnation: 50, settings: settings, random: SplitMix(seed: 3), now: start)
        _ = me.add("m", incarnation: 5, now: start)
        func hear(_ update: Detector.Update, at: Duration = .zero) {
            _ = me.receive(.ping(sequence: 1, updates: [update]), from: "liar", now: start + at)
        }
        hear(.init(name: "m", incarnation: .max, status: .suspect))
        hear(.init(name: "m", incarnation: 50 + 1_000_001, status: .alive))
        #expect(me.members["m"] == .init(name: "m", incarnation: 5, status: .alive))
        _ = me.receive(
            .sync(updates: [.init(name: "ghost", incarnation: .max, status: .alive)], replyWanted: false),
            from: "liar", now: start)
        #expect(me.members["ghost"] == nil)
        // This node is not pushed to where it could refute no more.
        hear(.init(name: "me", incarnation: .max - 1, status: .suspect))
        #expect(me.incarnation == 50)
        // Within the clock's reach, gossip is believed as before, and the ceiling moves with time.
        hear(.init(name: "m", incarnation: 50 + 1_000_000, status: .suspect))
        #expect(me.members["m"] == .init(name: "m", incarnation: 50 + 1_000_000, status: .suspect))
        hear(.init(name: "m", incarnation: 50 + 3_000_000, status: .alive), at: .seconds(2))
        #expect(me.members["m"] == .init(name: "m", incarnation: 50 + 3_000_000, status: .alive))
        hear(.init(name: "me", incarnation: 700, status: .suspect))
        #expect(me.incarnation == 701)
    }

    /// What lets the loop that ticks sleep a whole period between probes instead of waking four
    /// times a period for nothing.
    @Test func quietUntilTheNextThingToDo() {
        var (me, start) = Self.detector("me", members: ["a", "b"])
        let sent = Self.pings(me.tick(now: start))
        #expect(sent.count == 1)
        #expect(me.quietUntil(now: start) == nil, "a probe of its own is out: tick again soon")
        let answered = start + .milliseconds(3)
        _ = me.receive(.ack(sequence: sent[0].sequence, updates: []), from: sent[0].to, now: answered)
        #expect(me.quietUntil(now: answered) == start + .milliseconds(500))  // the next probe
        // Ticking before then does nothing; at it, the next probe goes out.
        #expect(me.tick(now: start + .milliseconds(400)).isEmpty)
        #expect(Self.pings(me.tick(now: start + .milliseconds(500))).count == 1)

        // A suspicion that runs out before the next probe is due is the next thing to do.
        var settings = Self.settings
        settings.suspicionTimeout = .milliseconds(100)
        var quick = Detector(name: "me", settings: settings, random: SplitMix(seed: 1))
        for member in ["a", "b"] { _ = quick.add(member, now: start) }
        let first = Self.pings(quick.tick(now: start))
        _ = quick.receive(.ack(sequence: first[0].sequence, updates: []), from: first[0].to, now: answered)
        _ = quick.receive(
            .ping(sequence: 9, updates: [.init(name: "a", incarnation: 0, status: .suspect)]), from: "b", now: answered)
        #expect(quick.quietUntil(now: answered) == answered + .milliseconds(100))
        #expect(quick.members["a"]?.status == .suspect)
        _ = quick.tick(now: answered + .milliseconds(100))
        #expect(quick.members["a"]?.status == .down)
    }

    @Test func precedenceOfGossipAndRejoinAfterDown() {
        var (node, start) = Self.detector("me", members: ["m"])
        func hear(_ update: Detector.Update) {
            _ = node.receive(.ping(sequence: 1, updates: [update]), from: "other", now: start)
        }
        hear(.init(name: "m", incarnation: 0, status: .suspect))
        #expect(node.members["m"]?.status == .suspect)
        hear(.init(name: "m", incarnation: 0, status: .alive))  // same incarnation: suspicion stands
        #expect(node.members["m"]?.status == .suspect)
        hear(.init(name: "m", incarnation: 1, status: .alive))  // refuted
        #expect(node.members["m"] == .init(name: "m", incarnation: 1, status: .alive))
        // Someone else's `down` is only a suspicion here; our own clock decides.
        hear(.init(name: "m", incarnation: 1, status: .down))
        #expect(node.members["m"]?.status == .suspect)
        _ = node.tick(now: start + .seconds(4))
        #expect(node.members["m"]?.status == .down)
        hear(.init(name: "m", incarnation: 1, status: .alive))  // the same incarnation stays down
        #expect(node.members["m"]?.status == .down)
        hear(.init(name: "m", incarnation: 2, status: .alive))  // restarted: back
        #expect(node.members["m"]?.status == .alive)
    }

    @Test func gossipIsBoundedPerMessageAndInTransmissions() {
        let others = (1...40).map { "n\($0)" }
        var (node, start) = Self.detector("me", members: others)
        // 40 fresh changes, at most 8 a message, each sent at most 3·⌈log₂ 41⌉ = 18 times.
        #expect(node.retransmitLimit == 18)
        var sent: [String: Int] = [:]
        for round in 0..<200 {
            let replies = node.receive(.ping(sequence: UInt64(round), updates: []), from: "n1", now: start)
            for case .send(.ack(_, let updates), _) in replies {
                #expect(updates.count <= 8)
                for update in updates { sent[update.name, default: 0] += 1 }
            }
        }
        #expect(sent.count == 40)
        #expect(sent.values.allSatisfy { $0 == 18 }, "\(sent)")
        // Everything has gone out enough: messages carry nothing more.
        let quiet = node.receive(.ping(sequence: 999, updates: []), from: "n1", now: start)
        #expect(quiet.contains(.send(.ack(sequence: 999, updates: []), to: "n1")))
    }

    static func requests(_ actions: [Detector.Action]) -> [String] {
        actions.compactMap {
            if case .send(.pingRequest, let helper) = $0 { return helper }
            return nil
        }
    }

    /// A node paused past its probe's timeout (SIGSTOP, a long GC) asks the helpers when it wakes
    /// and gives them a whole period from then: it does not suspect the member at its next tick.
    @Test func aPausedNodeGivesTheHelpersAWholePeriod() {
        var (node, start) = Self.detector("me", members: ["a", "b", "c", "d"])
        let ping = Self.pings(node.tick(now: start))[0]
        let woke = start + .seconds(2)
        let asked = Self.requests(node.tick(now: woke))
        #expect(asked.count == 3)
        #expect(Self.changes(node.tick(now: woke + .milliseconds(100))).isEmpty)
        _ = node.receive(.ack(sequence: ping.sequence, updates: []), from: asked[0], now: woke + .milliseconds(200))
        #expect(Self.changes(node.tick(now: woke + .milliseconds(700))).allSatisfy { $0.status == .alive })
        #expect(node.members[ping.to]?.status == .alive)
    }

    /// Lifeguard's local health: a node whose probes go unanswered, or that is suspected itself,
    /// stretches its timeouts and period until its probes are answered again.
    @Test func unansweredProbesAndSuspicionStretchThisNodesTimeouts() throws {
        var (node, start) = Self.detector("me", members: ["a", "b", "c", "d"])
        _ = node.tick(now: start)
        _ = node.tick(now: start + .milliseconds(250))
        let suspected = Self.changes(node.tick(now: start + .milliseconds(750)))
        #expect(suspected.map(\.status) == [.suspect])
        #expect(node.localHealth == 1)
        // The period is doubled now: no probe at 1.25 periods after the last, one at 2.
        #expect(Self.pings(node.tick(now: start + .milliseconds(900))).isEmpty)
        let next = try #require(Self.pings(node.tick(now: start + .milliseconds(1000))).first)
        // And the probe timeout: 250 ms is not yet enough to ask others (it is 400 ms now).
        #expect(Self.requests(node.tick(now: start + .milliseconds(1250))).isEmpty)
        // (Two helpers: the member suspected before is not asked.)
        #expect(Self.requests(node.tick(now: start + .milliseconds(1400))).count == 2)
        _ = node.receive(.ack(sequence: next.sequence, updates: []), from: next.to, now: start + .milliseconds(1450))
        #expect(node.localHealth == 0)
        // Hearing itself suspected counts against it too, up to the bound.
        for round in 0..<20 {
            _ = node.receive(
                .ping(
                    sequence: UInt64(round),
                    updates: [.init(name: "me", incarnation: node.incarnation, status: .suspect)]),
                from: "a", now: start + .seconds(2))
        }
        #expect(node.localHealth == node.settings.maxLocalHealth)
    }

    /// A member held suspect hears of it in the very next message it gets from this node, even
    /// when the suspicion has long gone out of the gossip.
    @Test func aPingToASuspectCarriesItsSuspicion() {
        var (node, start) = Self.detector("me", members: ["a", "b", "z"])
        _ = node.receive(
            .ping(sequence: 1, updates: [.init(name: "z", incarnation: 0, status: .suspect)]), from: "a", now: start)
        #expect(node.members["z"]?.status == .suspect)
        for round in 0..<50 { _ = node.receive(.ping(sequence: UInt64(round), updates: []), from: "a", now: start) }
        let quiet = node.receive(.ping(sequence: 99, updates: []), from: "a", now: start)
        #expect(quiet.contains(.send(.ack(sequence: 99, updates: []), to: "a")), "the gossip has run dry")
        var carried: [Detector.Update]?
        for period in 0..<4 where carried == nil {
            let now = start + .milliseconds(500 * period)
            for ping in Self.pings(node.tick(now: now)) {
                if ping.to == "z" { carried = ping.updates }
                _ = node.receive(.ack(sequence: ping.sequence, updates: []), from: ping.to, now: now)
            }
        }
        #expect(carried?.first == .init(name: "z", incarnation: 0, status: .suspect))
        // And an ack to a suspect that pinged us carries it too.
        let answer = node.receive(.ping(sequence: 5, updates: []), from: "z", now: start + .seconds(2))
        #expect(
            answer.contains(
                .send(.ack(sequence: 5, updates: [.init(name: "z", incarnation: 0, status: .suspect)]), to: "z")))
    }
}

/// SplitMix64: a seeded generator, so the detector's shuffles repeat run after run.
struct SplitMix: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

}

extension SWIMDetectorTests {
    static func acks(_ actions: [Detector.Action]) -> [(sequence: UInt64, to: String, updates: [Detector.Update])] {
        actions.compactMap {
            if case .send(.ack(let sequence, let updates), let to) = $0 { return (sequence, to, updates) }
            return nil
        }
    }

    /// A member taken for `down` (it was paused, or cut off) that speaks again is told so in the
    /// answer, refutes with a new incarnation, and is taken back by that.
    @Test func aDownMemberThatSpeaksAgainIsToldAndTakenBack() {
        var (me, start) = Self.detector("me", members: ["b"])
        var (b, _) = Self.detector("b", members: ["me"], seed: 2)
        // `b` goes silent: suspected, then down, here.
        var now = start
        let probe = Self.pings(me.tick(now: now))[0]
        #expect(probe.to == "b")
        now += .milliseconds(250)
        _ = me.tick(now: now)
        now += .milliseconds(600)
        _ = me.tick(now: now)
        now += .seconds(3)
        #expect(Self.changes(me.tick(now: now)).last?.status == .down)

        // `b` pings again: the ack carries its suspicion; b refutes; its next message brings it back.
        let answer = me.receive(.ping(sequence: 9, updates: []), from: "b", now: now)
        let ack = Self.acks(answer)[0]
        #expect(ack.updates.first == .init(name: "b", incarnation: 0, status: .suspect))
        _ = b.receive(.ack(sequence: 9, updates: ack.updates), from: "me", now: now)
        #expect(b.incarnation == 1)
        let next = Self.pings(b.tick(now: now))[0]
        let back = Self.changes(me.receive(.ping(sequence: next.sequence, updates: next.updates), from: "b", now: now))
        #expect(back == [.init(name: "b", incarnation: 1, status: .alive)])
    }

    /// News a node has of itself (its registrations changed) goes out as a new incarnation.
    @Test func anAnnouncementIsGossipedAsANewIncarnation() {
        var (me, start) = Self.detector("me", members: ["b"])
        me.announce()
        #expect(me.incarnation == 1)
        let ping = Self.pings(me.tick(now: start))[0]
        #expect(ping.updates.contains(.init(name: "me", incarnation: 1, status: .alive)))
    }

    /// However many names a peer gossips, this node keeps `maxMembers` at most.
    @Test func gossipCannotGrowTheMemberListPastItsBound() {
        var settings = Self.settings
        settings.maxMembers = 10
        var me = Detector(name: "me", settings: settings, random: SplitMix(seed: 3))
        let now = ContinuousClock.now
        for batch in 0..<20 {
            let updates = (0..<8).map { Detector.Update(name: "fake-\(batch)-\($0)", incarnation: 0, status: .alive) }
            _ = me.receive(.ping(sequence: UInt64(batch), updates: updates), from: "peer", now: now)
        }
        #expect(me.members.count == 10)
    }

    /// A full table makes room by letting go of the member `down` longest: nodes that are gone
    /// (churn, or names made up and never reached) do not keep new ones out. Live members are
    /// never let go of, so with every member live a new name is still refused.
    @Test func aFullTableMakesRoomWithTheMemberDownLongest() {
        var settings = Self.settings
        settings.maxMembers = 3
        var me = Detector(name: "me", settings: settings, random: SplitMix(seed: 5))
        let start = ContinuousClock.now
        for member in ["a", "b", "c"] { _ = me.add(member, now: start) }
        _ = me.left("b", now: start + .seconds(1))
        _ = me.left("a", now: start + .seconds(2))
        let forgotten = { (actions: [Detector.Action]) in
            actions.compactMap { action -> String? in
                if case .forgotten(let name) = action { return name }
                return nil
            }
        }
        // "b" has been down longest: it goes, and "d" is taken.
        let joined = me.add("d", now: start + .seconds(3))
        #expect(forgotten(joined) == ["b"])
        #expect(Self.changes(joined) == [.init(name: "d", incarnation: 0, status: .alive)])
        #expect(Set(me.members.keys) == ["a", "c", "d"])
        let next = me.add("e", now: start + .seconds(4))
        #expect(next.contains(.forgotten("a")))
        // Every member live: a new name is refused, and nobody is let go of.
        let refused = me.add("f", now: start + .seconds(5))
        #expect(refused.isEmpty)
        #expect(Set(me.members.keys) == ["c", "d", "e"])
        // A forgotten member is probed no more; the live ones still are.
        let probed = Self.probedWhenAllAnswer(&me, from: start + .seconds(6), periods: 12)
        #expect(probed.isSubset(of: ["c", "d", "e"]) && !probed.isEmpty)
    }

    static func pingRequests(_ actions: [Detector.Action]) -> [String] {
        actions.compactMap {
            if case .send(.pingRequest, let to) = $0 { return to }
            return nil
        }
    }

    /// A probe that first needs a connection made is timed from when it went out: a slow dial is
    /// not the member's silence (without this, every probe of a member not connected to went to
    /// the helpers on a loaded machine, and the cluster never settled).
    @Test func aProbeWaitingForItsConnectionIsTimedFromWhenItWentOut() {
        var (me, start) = Self.detector("me", members: ["a", "b", "c"])
        let probe = Self.pings(me.tick(now: start))[0]
        me.probeAwaitsConnection(probe.sequence, allowance: .seconds(1))
        // 250 ms in, past the 200 ms probe timeout: still waiting for its connection.
        #expect(Self.pingRequests(me.tick(now: start + .milliseconds(250))).isEmpty)
        me.probeSent(probe.sequence, now: start + .milliseconds(300))
        #expect(Self.pingRequests(me.tick(now: start + .milliseconds(450))).isEmpty)
        // 200 ms after it went out, unanswered: the helpers are asked.
        #expect(Self.pingRequests(me.tick(now: start + .milliseconds(510))).count == 2)
    }

    /// With rings, a node probes only its successors, the same few each pass, so its connections
    /// stay few and open; across a cluster every member still has observers, and when one of a
    /// node's successors is `down` the next member on that ring takes its place.
    @Test func ringsGiveEachNodeAFewTargetsAndEveryMemberObservers() {
        let names = (0..<64).map { "n\($0)" }
        var observers: [String: Set<String>] = [:]
        for name in names {
            var (detector, start) = Self.detector(name, members: names.filter { $0 != name })
            let probed = Self.probedWhenAllAnswer(&detector, from: start, periods: 40)
            #expect(probed == Set(detector.ringSuccessors()))
            #expect((1...Self.settings.probeRings).contains(probed.count), "\(name) probed \(probed)")
            for target in probed { observers[target, default: []].insert(name) }
        }
        #expect(Set(observers.keys) == Set(names), "every member is probed by someone")
        #expect(observers.values.allSatisfy { $0.count <= Self.settings.probeRings })

        // n0's successors: one is `down`, and the next member on its ring is probed instead.
        var (me, start) = Self.detector("n0", members: Array(names.dropFirst()))
        let before = me.ringSuccessors()
        let gone = before[0]
        _ = me.receive(
            .ping(sequence: 1, updates: [.init(name: gone, incarnation: 0, status: .suspect)]), from: before.last!,
            now: start)
        for ping in Self.pings(me.tick(now: start + .seconds(4))) {  // the suspicion outlasts its timeout
            _ = me.receive(.ack(sequence: ping.sequence, updates: []), from: ping.to, now: start + .seconds(4))
        }
        #expect(me.members[gone]?.status == .down)
        let after = me.ringSuccessors()
        #expect(!after.contains(gone))
        #expect(after.count >= before.count - 1 && !after.isEmpty)
        let probedAfter = Self.probedWhenAllAnswer(&me, from: start + .seconds(5), periods: 20)
        #expect(probedAfter == Set(after))
    }

    /// The places on the rings are the same on every node and in every run (a seeded `Hasher`
    /// would give each process rings of its own), and spread: no ring puts most names together.
    @Test func ringPlacesAreStableAndSpread() {
        #expect(Detector.ringPlace("worker-1", ring: 0) == Detector.ringPlace("worker-1", ring: 0))
        #expect(Detector.ringPlace("worker-1", ring: 0) != Detector.ringPlace("worker-1", ring: 1))
        #expect(Detector.ringPlace("worker-1", ring: 0) == 0xecd1_384d_da7e_32f2)  // pinned: nodes of two builds must agree
        let places = (0..<1000).map { Detector.ringPlace("n\($0)", ring: 2) }
        let quarters = Dictionary(grouping: places, by: { $0 >> 62 }).mapValues(\.count)
        #expect(quarters.count == 4 && quarters.values.allSatisfy { (200...300).contains($0) }, "\(quarters)")
    }

    static func syncs(_ actions: [Detector.Action]) -> [(to: String, updates: [Detector.Update], replyWanted: Bool)] {
        actions.compactMap {
            if case .send(.sync(let updates, let replyWanted), let to) = $0 { return (to, updates, replyWanted) }
            return nil
        }
    }

    /// Anti-entropy: every `syncInterval` a node swaps member lists with one it probes. A member it
    /// missed the news of is learnt and passed on; a suspicion in a list accuses nobody.
    @Test func aSyncSwapsMemberListsAndOnlyAddsOrRevives() {
        var settings = Self.settings
        settings.syncInterval = .seconds(4)
        var me = Detector(name: "me", settings: settings, random: SplitMix(seed: 5))
        let start = ContinuousClock.now
        for member in ["a", "b", "c"] { _ = me.add(member, announce: false, now: start) }
        // Ticks whose probes are answered (an unanswered one would stretch the interval).
        func step(_ at: Duration) -> [(to: String, updates: [Detector.Update], replyWanted: Bool)] {
            let actions = me.tick(now: start + at)
            for ping in Self.pings(actions) {
                _ = me.receive(.ack(sequence: ping.sequence, updates: []), from: ping.to, now: start + at)
            }
            return Self.syncs(actions)
        }
        // The first tick syncs at once, then not again before the interval.
        let first = step(.zero)
        #expect(first.count == 1 && first[0].replyWanted)
        #expect(Set(first[0].updates.map(\.name)) == ["me", "a", "b", "c"])
        #expect(step(.seconds(2)).isEmpty)
        #expect(step(.seconds(4)).count == 1)

        // The partner's list: "d" missed, "b" suspected by the partner, "c" at a newer incarnation.
        let list: [Detector.Update] = [
            .init(name: "a", incarnation: 0, status: .alive), .init(name: "b", incarnation: 0, status: .suspect),
            .init(name: "c", incarnation: 3, status: .alive), .init(name: "d", incarnation: 1, status: .alive),
            .init(name: "me", incarnation: 0, status: .suspect),
        ]
        let actions = me.receive(.sync(updates: list, replyWanted: true), from: "a", now: start + .seconds(5))
        #expect(me.members["d"] == .init(name: "d", incarnation: 1, status: .alive))
        #expect(me.members["c"]?.incarnation == 3)
        #expect(me.members["b"]?.status == .alive, "a list does not accuse")
        #expect(me.incarnation == 0, "nor make this node refute")
        let reply = Self.syncs(actions)
        #expect(reply.count == 1 && reply[0].to == "a" && !reply[0].replyWanted)
        #expect(Set(reply[0].updates.map(\.name)) == ["me", "a", "b", "c", "d"])
        // What the list brought is news to pass on: "c"'s new incarnation may carry registrations.
        let ping = Self.pings(me.tick(now: start + .seconds(6)))
        #expect(Set(ping.flatMap(\.updates).map(\.name)).isSuperset(of: ["c", "d"]))
        // A reply asks for nothing back.
        #expect(
            Self.syncs(me.receive(.sync(updates: list, replyWanted: false), from: "b", now: start + .seconds(6)))
                .isEmpty)
        // A peer asking again at once is not answered: the list goes to it once a second at most.
        #expect(
            Self.syncs(me.receive(.sync(updates: [], replyWanted: true), from: "a", now: start + .seconds(5.5)))
                .isEmpty)
        #expect(
            Self.syncs(me.receive(.sync(updates: [], replyWanted: true), from: "a", now: start + .seconds(6))).count
                == 1)
    }
}
