/// SWIM's failure detection and dissemination as a pure state machine: the protocol that keeps a
/// node's load constant however large the cluster grows (one probe a period, not a ping to every
/// peer).
///
/// Each `tick` probes one member, taken in a shuffled round robin. The round is this node's
/// successors on a few hash rings (`probeRings`, as Rapid's monitoring does), not every member as
/// in SWIM's paper: each member is still probed about once a period, by one of its few observers,
/// but a node talks to a handful of members, so its connections stay open and few instead of a
/// TLS handshake for nearly every probe. A member that does not ack within `probeTimeout` is
/// probed indirectly through `k` others (`pingReq`); one that still does not ack by the end of
/// the period is `suspect`. A suspect that does not refute within `suspicionTimeout` is `down`. A
/// suspect refutes by raising its incarnation: a node that hears itself suspected does exactly
/// that. Every change rides on the pings and acks already being sent, each one a bounded number
/// of times, a few per message.
///
/// `down` stays each node's own verdict (as in `Membership`): suspicion is gossiped, so every node
/// runs out of patience with a silent member by itself, but a `down` heard from another is taken
/// only as a suspicion, so no node can have a live member removed everywhere.
///
/// Lifeguard's refinements keep a slow node from accusing healthy ones: a node whose own probes go
/// unanswered, or that hears itself suspected, counts that against its *local health* and waits
/// longer (timeouts and period scaled by it) until its probes are answered again; the indirect phase
/// of a probe lasts a whole period from when it began, so a node that was paused gives the helpers
/// their time; and a ping to a member held suspect carries that suspicion, so it can refute at once.
///
/// It does no I/O: events in (a tick, a message), actions out (messages to send), and tests drive it
/// with a clock and a seeded random source of their own. `ClusterSystem` runs it when its settings
/// say `membershipProtocol = .swim` (`SWIMState` carries its messages and addresses).
public struct SWIMDetector<Random: RandomNumberGenerator> {
    /// The defaults come from runs of the simulated network `SWIMSimulationTests` uses (256 and
    /// 512 nodes, four seeds each): a 500 ms period let a node stopped for 2 s be judged `down` (36
    /// verdicts) and took 8.4 s to have a dead one `down` everywhere; at 200 ms a join reached all
    /// in 1.2 s, a death in 5.1 s, with no false verdict, for about 10 messages a node a second
    /// whatever the size.
    public struct Settings: Sendable {
        public var probeInterval: Duration = .milliseconds(200)
        public var probeTimeout: Duration = .milliseconds(100)
        /// Members asked to probe a silent one on our behalf.
        public var indirectProbes = 3
        public var suspicionTimeout: Duration = .seconds(3)
        /// Member changes piggybacked on one message at most.
        public var maxPiggyback = 8
        /// Each change is sent `retransmitMultiplier · ⌈log₂(n + 1)⌉` times: enough to reach
        /// everyone with high probability, not more.
        public var retransmitMultiplier = 3
        /// The most local health may count against this node: its timeouts and period are
        /// stretched by up to `1 + maxLocalHealth` times.
        public var maxLocalHealth = 8
        /// Members this node keeps at most; news of more is ignored.
        public var maxMembers = 4096
        /// How often a node swaps its whole member list with one of the members it probes (nil:
        /// never). Gossip is sent a bounded number of times, and on the rings nobody outside a
        /// node's few neighbours talks to it, so news it missed would otherwise never reach it.
        public var syncInterval: Duration? = .seconds(4)
        /// Rings the members are placed on (by a hash of their names, the same on every node):
        /// a node probes only its successor on each, so it keeps a connection to at most this many
        /// members and is probed by as many, whatever the cluster's size. 0 probes every member
        /// in turn, as SWIM's paper does, and needs a connection to each in turn.
        public var probeRings = 4
        /// How far a member's incarnation may run ahead of this node's clock. Incarnations are
        /// clock readings (µs) at a node's start plus one per refutation, so a larger one is made
        /// up: believed, one near `UInt64.max` would leave its subject no incarnation to refute
        /// with. The default allows clocks 12 days apart.
        public var incarnationLead: UInt64 = 1 << 40

        public init() {}
    }

    public enum Status: Int, Sendable, Comparable {
        case alive = 0, suspect = 1, down = 2

        public static func < (a: Status, b: Status) -> Bool { a.rawValue < b.rawValue }
    }

    /// A member's state as gossip carries it.
    public struct Update: Sendable, Equatable {
        public var name: String
        public var incarnation: UInt64
        public var status: Status

        public init(name: String, incarnation: UInt64, status: Status) {
            self.name = name
            self.incarnation = incarnation
            self.status = status
        }

        /// SWIM's precedence: a higher incarnation wins; within one, suspect beats alive and
        /// down beats both.
        func overrides(_ other: Update) -> Bool {
            incarnation > other.incarnation || (incarnation == other.incarnation && status > other.status)
        }
    }

    public enum Message: Sendable, Equatable {
        case ping(sequence: UInt64, updates: [Update])
        case ack(sequence: UInt64, updates: [Update])
        /// "Probe `target` for me and pass its ack back."
        case pingRequest(sequence: UInt64, target: String, updates: [Update])
        /// Anti-entropy: every member the sender holds live, itself included; `replyWanted` asks
        /// for the receiver's list back (push-pull, as memberlist does).
        case sync(updates: [Update], replyWanted: Bool)
    }

    public enum Action: Sendable, Equatable {
        case send(Message, to: String)
        /// A member's status changed, as this node now believes.
        case changed(Update)
        /// A member `down` for longest is no longer held: a new one needed its place.
        case forgotten(String)
    }

    /// A probe this node is waiting on.
    private struct Probe {
        var target: String
        var started: ContinuousClock.Instant
        var indirect = false
        /// When the helpers were asked: they get a whole period from then, not from `started`.
        var indirectSince: ContinuousClock.Instant?
        /// The members asked to probe it for us: only their acks (or the target's) count.
        var helpers: Set<String> = []
        /// When this is a probe for another node (`pingRequest`): whom to pass the ack to, and
        /// under which of its sequence numbers.
        var onBehalfOf: (node: String, sequence: UInt64)?
    }

    public let name: String
    public private(set) var incarnation: UInt64 = 0
    /// Lifeguard's local health multiplier: 0 when this node's probes are answered, up to
    /// `maxLocalHealth` while they are not or it is being suspected.
    public private(set) var localHealth = 0
    private var lastProbeStarted: ContinuousClock.Instant?
    public let settings: Settings
    public private(set) var members: [String: Update] = [:]
    private var suspectedAt: [String: ContinuousClock.Instant] = [:]
    /// When each `down` member was found so: the one down longest makes room in a full table.
    private var downSince: [String: ContinuousClock.Instant] = [:]
    private var order: [String] = []
    private var probes: [UInt64: Probe] = [:]
    private var nextSequence: UInt64 = 1
    /// Changes still to be piggybacked, with how many times each has gone out.
    private var gossip: [String: (update: Update, sent: Int)] = [:]
    private var probeCursor = 0
    /// The members this node probes (its successors on the rings), worked out again when a member
    /// comes or goes `down`; nil until then.
    private var neighbours: [String]?
    private var probeOrder: [String] = []
    private var neighbourCursor = 0
    private var lastSync: ContinuousClock.Instant?
    /// When each member was last sent this node's list in answer: a peer asking in a loop (a
    /// few bytes each time) must not have this node build and send its whole list each time.
    private var syncAnswered: [String: ContinuousClock.Instant] = [:]
    static var syncAnswerGap: Duration { .seconds(1) }
    private var random: Random
    /// This node's first incarnation and when it took it: the clock incarnations are measured by.
    private let origin: (incarnation: UInt64, at: ContinuousClock.Instant)

    /// `incarnation` starts where this node's previous runs cannot have reached (a clock reading),
    /// so a restarted node outranks the `down` its last run earned.
    public init(
        name: String, incarnation: UInt64 = 0, settings: Settings = Settings(), random: Random,
        now: ContinuousClock.Instant = .now
    ) {
        self.name = name
        self.incarnation = incarnation
        self.settings = settings
        self.random = random
        self.origin = (incarnation, now)
    }

    /// The highest incarnation this node believes of anyone at `now`: its own clock reading, in
    /// the unit incarnations use, plus `incarnationLead`.
    func incarnationCeiling(at now: ContinuousClock.Instant) -> UInt64 {
        let elapsed = max(now - origin.at, .zero)
        let micros =
            UInt64(elapsed.components.seconds) &* 1_000_000
            &+ UInt64(elapsed.components.attoseconds / 1_000_000_000_000)
        let (clock, late) = origin.incarnation.addingReportingOverflow(micros)
        let (ceiling, over) = clock.addingReportingOverflow(settings.incarnationLead)
        return late || over ? .max : ceiling
    }

    // MARK: Events

    /// A member learnt of outside gossip (a seed, a join): alive at its incarnation. `announce`
    /// false takes it without passing it on: a member list copied whole from another node (at a
    /// join) is no news to the others.
    public mutating func add(
        _ member: String, incarnation: UInt64 = 0, announce: Bool = true, now: ContinuousClock.Instant
    ) -> [Action] {
        let actions = apply(Update(name: member, incarnation: incarnation, status: .alive), now: now)
        if !announce { gossip[member] = nil }
        return actions
    }

    /// This node has news about itself (its registrations changed): a new incarnation, gossiped
    /// like a refutation, carries it.
    public mutating func announce() {
        guard incarnation < .max else { return }
        incarnation += 1
        remember(Update(name: name, incarnation: incarnation, status: .alive))
    }

    /// The probe `sequence` waits for a connection to be made before it goes out: its member is
    /// given up to `allowance` more to answer, so the time a dial takes is not counted against it.
    public mutating func probeAwaitsConnection(_ sequence: UInt64, allowance: Duration) {
        guard let probe = probes[sequence], probe.onBehalfOf == nil, !probe.indirect else { return }
        probes[sequence]?.started = probe.started + allowance
    }

    /// The probe `sequence` went out at `now` (after its connection was made): its timeout runs
    /// from then.
    public mutating func probeSent(_ sequence: UInt64, now: ContinuousClock.Instant) {
        guard let probe = probes[sequence], probe.onBehalfOf == nil, !probe.indirect else { return }
        probes[sequence]?.started = min(probe.started, now)
    }

    /// `member` said itself that it is leaving (over its own connection): `down` here at once.
    /// Not gossiped, like any `down`: the others reach it by themselves.
    public mutating func left(_ member: String, now: ContinuousClock.Instant) -> [Action] {
        guard let current = members[member], current.status != .down else { return [] }
        return apply(Update(name: member, incarnation: current.incarnation, status: .down), now: now)
    }

    /// One protocol period: suspicions that ran out become `down`, unanswered probes go indirect
    /// or end in suspicion, and the next member is probed.
    public mutating func tick(now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        for (member, since) in suspectedAt.sorted(by: { $0.key < $1.key })
        where now - since >= settings.suspicionTimeout {
            guard let current = members[member], current.status == .suspect else { continue }
            actions += apply(Update(name: member, incarnation: current.incarnation, status: .down), now: now)
        }
        for (sequence, probe) in probes.sorted(by: { $0.key < $1.key }) where probe.onBehalfOf == nil {
            if !probe.indirect, now - probe.started >= scaled(settings.probeTimeout) {
                probes[sequence]?.indirect = true
                probes[sequence]?.indirectSince = now
                let asked = helpers(for: probe.target)
                probes[sequence]?.helpers = Set(asked)
                for helper in asked {
                    actions.append(
                        .send(.pingRequest(sequence: sequence, target: probe.target, updates: piggyback()), to: helper))
                }
            } else if probe.indirect, now - (probe.indirectSince ?? probe.started) >= scaled(settings.probeInterval) {
                probes[sequence] = nil
                changeLocalHealth(by: 1)
                if let current = members[probe.target], current.status == .alive {
                    actions += apply(
                        Update(name: probe.target, incarnation: current.incarnation, status: .suspect), now: now)
                }
            }
        }
        // Probes made for others are dropped after a period: their requester decides alone.
        probes = probes.filter { $0.value.onBehalfOf == nil || now - $0.value.started < settings.probeInterval }
        // One probe a period, the period stretched while this node's own health is in doubt.
        if lastProbeStarted.map({ now - $0 >= scaled(settings.probeInterval) }) ?? true, let target = nextTarget(),
            !probes.values.contains(where: { $0.target == target && $0.onBehalfOf == nil })
        {
            let sequence = take()
            probes[sequence] = Probe(target: target, started: now)
            lastProbeStarted = now
            actions.append(.send(.ping(sequence: sequence, updates: piggyback(to: target)), to: target))
        }
        if let interval = settings.syncInterval, lastSync.map({ now - $0 >= scaled(interval) }) ?? true,
            let partner = syncPartner()
        {
            lastSync = now
            actions.append(.send(.sync(updates: syncList(), replyWanted: true), to: partner))
        }
        return actions
    }

    /// Until when `tick` has nothing to do, if nothing else happens: nil while a probe of its own
    /// is out (its timeout may come early, when a connection it waited for is made). The loop
    /// that ticks sleeps until then instead of waking every few milliseconds for nothing.
    public func quietUntil(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        guard !probes.values.contains(where: { $0.onBehalfOf == nil }) else { return nil }
        var next = lastProbeStarted.map { $0 + scaled(settings.probeInterval) } ?? now
        if let interval = settings.syncInterval {
            next = min(next, lastSync.map { $0 + scaled(interval) } ?? now)
        }
        for (member, since) in suspectedAt where members[member]?.status == .suspect {
            next = min(next, since + settings.suspicionTimeout)
        }
        for probe in probes.values {
            next = min(next, probe.started + settings.probeInterval)
        }
        return next
    }

    /// A message from `sender` (a name its certificate proved, not one it claimed).
    public mutating func receive(_ message: Message, from sender: String, now: ContinuousClock.Instant) -> [Action] {
        guard sender != name else { return [] }
        var actions: [Action] = []
        switch message {
        case .ping(let sequence, let updates):
            actions += merge(updates, now: now)
            actions += heardFrom(sender, now: now)
            actions.append(.send(.ack(sequence: sequence, updates: piggyback(to: sender)), to: sender))
        case .ack(let sequence, let updates):
            actions += merge(updates, now: now)
            // Only an ack from the member probed, or from a helper asked about it, counts.
            guard let probe = probes[sequence], probe.target == sender || probe.helpers.contains(sender) else {
                break
            }
            probes[sequence] = nil
            if probe.onBehalfOf == nil { changeLocalHealth(by: -1) }
            actions += heardFrom(probe.target, now: now)
            if let requester = probe.onBehalfOf {
                actions.append(.send(.ack(sequence: requester.sequence, updates: piggyback()), to: requester.node))
            }
        case .sync(let updates, let replyWanted):
            actions += mergeList(updates, now: now)
            if syncAnswered.count >= settings.maxMembers {
                syncAnswered = syncAnswered.filter { now - $0.value < Self.syncAnswerGap }
            }
            // Held to `maxMembers` peers a second: past that, a list is asked for by too many at once.
            if replyWanted, syncAnswered[sender].map({ now - $0 >= Self.syncAnswerGap }) ?? true,
                syncAnswered.count < settings.maxMembers || syncAnswered[sender] != nil
            {
                syncAnswered[sender] = now
                actions.append(.send(.sync(updates: syncList(), replyWanted: false), to: sender))
            }
        case .pingRequest(let sequence, let target, let updates):
            actions += merge(updates, now: now)
            guard target != name, target != sender, members[target] != nil,
                probes.values.filter({ $0.onBehalfOf != nil }).count < 4 * settings.indirectProbes
            else { break }
            let mine = take()
            probes[mine] = Probe(target: target, started: now, indirect: true, onBehalfOf: (sender, sequence))
            actions.append(.send(.ping(sequence: mine, updates: piggyback(to: target)), to: target))
        }
        return actions
    }

    // MARK: Rules

    /// Gossip about members, ours included: news about this node is answered, never believed; a
    /// `down` from another node is taken as a suspicion only.
    private mutating func merge(_ updates: [Update], now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        for var update in updates.prefix(settings.maxPiggyback) {
            if update.name == name {
                if update.status != .alive, update.incarnation >= incarnation,
                    update.incarnation < incarnationCeiling(at: now)
                {
                    // Suspected at our current incarnation: refute with a new one. Being suspected
                    // hints that this node is the slow one: it counts against its local health.
                    incarnation = update.incarnation + 1
                    remember(Update(name: name, incarnation: incarnation, status: .alive))
                    changeLocalHealth(by: 1)
                }
                continue
            }
            if update.status == .down { update.status = .suspect }
            actions += apply(update, now: now)
        }
        return actions
    }

    /// A member list from a sync: it may only add members or raise incarnations, as `alive`. It
    /// never accuses: a suspicion taken from a list would not reach its subject to be refuted.
    /// What it brings is gossiped on like any news (a member's new incarnation may carry new
    /// registrations, and the node that synced first must not be the end of that news).
    private mutating func mergeList(_ updates: [Update], now: ContinuousClock.Instant) -> [Action] {
        var actions: [Action] = []
        for update in updates.prefix(settings.maxMembers + 1) where update.name != name {
            actions += apply(Update(name: update.name, incarnation: update.incarnation, status: .alive), now: now)
        }
        return actions
    }

    /// Every member held live, and this node: what a sync carries.
    private func syncList() -> [Update] {
        [Update(name: name, incarnation: incarnation, status: .alive)]
            + members.values.filter { $0.status != .down }.sorted { $0.name < $1.name }
    }

    /// A member to sync with: one this node probes (a connection is open), or with no rings any
    /// live member.
    private mutating func syncPartner() -> String? {
        let near = (neighbours ?? []).filter { members[$0]?.status == .alive }
        if let partner = near.randomElement(using: &random) { return partner }
        return members.values.filter { $0.status == .alive }.map(\.name).sorted().randomElement(using: &random)
    }

    /// Hearing from a member directly: a member not known yet is alive. A suspect stays suspect
    /// until it refutes (our pings carry the suspicion to it, and its answer the refutation).
    private mutating func heardFrom(_ member: String, now: ContinuousClock.Instant) -> [Action] {
        guard member != name, members[member] == nil else { return [] }
        return apply(Update(name: member, incarnation: 0, status: .alive), now: now)
    }

    private mutating func apply(_ update: Update, now: ContinuousClock.Instant) -> [Action] {
        // An incarnation beyond the clock's is made up (see `Settings.incarnationLead`).
        guard update.name != name, update.incarnation <= incarnationCeiling(at: now) else { return [] }
        var actions: [Action] = []
        if let current = members[update.name] {
            guard update.overrides(current) else { return [] }
            // `down` ends an incarnation: only a new one brings the member back.
            if current.status == .down, update.incarnation <= current.incarnation { return [] }
        } else if members.count >= settings.maxMembers {
            // Gossip cannot grow this node's memory without end, whatever names a peer makes up:
            // a new member takes the place of the one `down` longest (gone for good, or a made-up
            // name nobody could reach), so neither churn nor fakes keep real nodes out; with
            // every member live it is not taken.
            guard let room = longestDown() else { return [] }
            forget(room)
            actions.append(.forgotten(room))
        }
        if members[update.name].map({ ($0.status == .down) != (update.status == .down) }) ?? true {
            neighbours = nil
        }
        members[update.name] = update
        switch update.status {
        case .suspect:
            suspectedAt[update.name] = suspectedAt[update.name] ?? now
            downSince[update.name] = nil
        case .alive:
            suspectedAt[update.name] = nil
            downSince[update.name] = nil
        case .down:
            suspectedAt[update.name] = nil
            downSince[update.name] = downSince[update.name] ?? now
        }
        if !order.contains(update.name) {
            // At a random place in the round: nodes that learnt of the same members in the same
            // order would otherwise all probe the same one at once, and news would spread to one
            // new node a period.
            let place = Int.random(in: 0...order.count, using: &random)
            order.insert(update.name, at: place)
            if place < probeCursor { probeCursor += 1 }
        }
        // Our own verdict of `down` is not gossiped: each node reaches it by itself.
        if update.status != .down { remember(update) } else { gossip[update.name] = nil }
        return actions + [.changed(update)]
    }

    /// The member `down` for longest, if any.
    func longestDown() -> String? {
        downSince.min { ($0.value, $0.key) < ($1.value, $1.key) }?.key
    }

    /// Lets go of a `down` member entirely (`longestDown`): a live one is never forgotten.
    mutating func forget(_ member: String) {
        guard members[member]?.status == .down else { return }
        members[member] = nil
        suspectedAt[member] = nil
        downSince[member] = nil
        gossip[member] = nil
        syncAnswered[member] = nil
        if let place = order.firstIndex(of: member) {
            order.remove(at: place)
            if place < probeCursor { probeCursor -= 1 }
        }
        if let place = probeOrder.firstIndex(of: member) {
            probeOrder.remove(at: place)
            if place < neighbourCursor { neighbourCursor -= 1 }
        }
        neighbours = nil
    }

    private mutating func remember(_ update: Update) {
        gossip[update.name] = (update, 0)
    }

    /// How many times each change is sent: `retransmitMultiplier · ⌈log₂(n + 1)⌉`.
    var retransmitLimit: Int {
        let n = members.count + 1
        return settings.retransmitMultiplier * (Int.bitWidth - n.leadingZeroBitCount)
    }

    /// The changes least sent so far, each counted; those sent enough are dropped. A message to a
    /// member this node holds suspect (or `down`: it was paused or cut off, and speaks again)
    /// carries that suspicion first, so the member can refute it and be taken back.
    private mutating func piggyback(to recipient: String? = nil) -> [Update] {
        let limit = retransmitLimit
        var updates: [Update] = []
        var room = settings.maxPiggyback
        if let recipient, let held = members[recipient], held.status != .alive, room > 0 {
            updates.append(Update(name: recipient, incarnation: held.incarnation, status: .suspect))
            room -= 1
        }
        let chosen = gossip.filter { $0.key != recipient || updates.isEmpty }
            .sorted { ($0.value.sent, $0.key) < ($1.value.sent, $1.key) }.prefix(room)
        for (member, entry) in chosen {
            updates.append(entry.update)
            if entry.sent + 1 >= limit { gossip[member] = nil } else { gossip[member]?.sent += 1 }
        }
        return updates
    }

    /// A timeout or period stretched by this node's local health.
    private func scaled(_ duration: Duration) -> Duration {
        duration * (1 + localHealth)
    }

    private mutating func changeLocalHealth(by step: Int) {
        localHealth = min(max(localHealth + step, 0), settings.maxLocalHealth)
    }

    /// The next member to probe, in a round robin reshuffled after each pass, so each is probed
    /// once a pass and in no order a member could predict: this node's ring successors, or (with no
    /// rings) every member not `down`.
    private mutating func nextTarget() -> String? {
        guard settings.probeRings > 0 else {
            return Self.nextInRound(&order, cursor: &probeCursor, random: &random, members: members)
        }
        if neighbours == nil {
            probeOrder = ringSuccessors().shuffled(using: &random)
            neighbourCursor = 0
            neighbours = probeOrder
        }
        return Self.nextInRound(&probeOrder, cursor: &neighbourCursor, random: &random, members: members)
    }

    private static func nextInRound(
        _ round: inout [String], cursor: inout Int, random: inout Random, members: [String: Update]
    ) -> String? {
        for _ in 0...round.count {
            if cursor >= round.count {
                cursor = 0
                round.shuffle(using: &random)
            }
            guard !round.isEmpty else { return nil }
            let member = round[cursor]
            cursor += 1
            if members[member]?.status != .down { return member }
        }
        return nil
    }

    /// On each ring, the member not `down` that follows this node: the place of a name on ring `r`
    /// is a hash every node computes alike, so each member has (about) `probeRings` observers too,
    /// and the probes and gossip run over a random graph of degree `2 · probeRings`, through which
    /// news still reaches everyone in O(log N) periods.
    func ringSuccessors() -> [String] {
        var successors: [String] = []
        for ring in 0..<settings.probeRings {
            let mine = Self.ringPlace(name, ring: ring)
            var best: (distance: UInt64, name: String)?
            for (member, update) in members where update.status != .down {
                let distance = Self.ringPlace(member, ring: ring) &- mine
                if best.map({ (distance, member) < ($0.distance, $0.name) }) ?? true { best = (distance, member) }
            }
            if let best, !successors.contains(best.name) { successors.append(best.name) }
        }
        return successors
    }

    /// FNV-1a of the name, salted with the ring's number and mixed (SplitMix64's finaliser): the
    /// same on every node and in every run, unlike Swift's seeded `Hasher`.
    static func ringPlace(_ name: String, ring: Int) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325 ^ UInt64(truncatingIfNeeded: ring &* 0x9E37_79B9)
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        hash = (hash ^ (hash >> 30)) &* 0xBF58_476D_1CE4_E5B9
        hash = (hash ^ (hash >> 27)) &* 0x94D0_49BB_1331_11EB
        return hash ^ (hash >> 31)
    }

    /// Members asked to probe a silent one: this node's other ring successors first (a
    /// connection to them is open), then any live members.
    private mutating func helpers(for target: String) -> [String] {
        let near = (neighbours ?? []).filter { $0 != target && members[$0]?.status == .alive }
            .shuffled(using: &random)
        guard near.count < settings.indirectProbes else { return Array(near.prefix(settings.indirectProbes)) }
        let far = order.filter { $0 != target && !near.contains($0) && members[$0]?.status == .alive }
            .shuffled(using: &random)
        return Array((near + far).prefix(settings.indirectProbes))
    }

    private mutating func take() -> UInt64 {
        defer { nextSequence &+= 1 }
        return nextSequence
    }
}
