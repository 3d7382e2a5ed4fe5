import Foundation
import NIOCore

/// SWIM (`membershipProtocol = .swim`): the detector runs under the system's lock like the
/// membership machine; its messages go out on whatever connection to the member exists (dialled or
/// accepted), dialling one when there is none, and its verdicts are the members' statuses.
extension ClusterSystem {
    typealias SWIMAction = SWIMState.Detector.Action

    /// What a step of the detector leaves to do once the lock is let go.
    struct SWIMEffects {
        var sends: [(SWIMPacket, PeerConnection)] = []
        var dials: [(SWIMPacket, ClusterNode)] = []
        var closing: [PeerConnection] = []
        var downed: [String] = []
        /// Node states to fetch from their owners: the process and the version held now.
        var pulls: [(ClusterNode, UInt64)] = []
    }

    var runsSWIM: Bool { settings.membershipProtocol == .swim }

    /// How long a probe may wait for its connection before its timeout starts regardless: a
    /// TLS handshake on a loaded machine, not an unreachable member's connect timeout.
    private var connectAllowance: Duration { settings.probeInterval * 2 }

    /// How long a pull may go unanswered before it is asked again.
    private var pullRetry: Duration { max(settings.probeInterval * 5, .seconds(1)) }

    /// Ticks the detector several times a period, so a probe's timeout is noticed in time.
    func startSWIM() {
        guard settings.membershipProtocol == .swim else { return }
        let step = max(settings.swim.probeTimeout / 2, .milliseconds(10))
        let task = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                var wake = ContinuousClock.now + step
                self.perform(
                    self.state.withLock { state in
                        guard !state.isShutDown, self.runsSWIM else { return SWIMEffects() }
                        let now = ContinuousClock.now
                        let actions = state.swim!.detector.tick(now: now)
                        var effects = self.carryOut(actions, state: &state, now: now)
                        effects.pulls += self.pullsDue(among: Array(state.swim!.pulls.keys), state: &state, now: now)
                        // Pulls asked for are retried on this tick, so it never sleeps past a step
                        // while one is under way; and never past a probe period, so a suspicion
                        // gossip brings meanwhile runs out at most that late.
                        if state.swim!.pulls.isEmpty, let quiet = state.swim!.detector.quietUntil(now: now) {
                            wake = min(max(quiet, now + step), now + self.settings.swim.probeInterval)
                        }
                        return effects
                    })
                try? await Task.sleep(until: wake, clock: .continuous)
            }
        }
        swimTask.withLock { $0 = task }
    }

    /// A SWIM message from a connection's certified peer.
    func received(swim packet: SWIMPacket, from connection: PeerConnection) {
        let now = ContinuousClock.now
        perform(
            state.withLock { state in
                guard !state.isShutDown, runsSWIM else { return SWIMEffects() }
                state.membership.heard(from: connection.peer.name, incarnation: connection.peer.incarnation, now: now)
                state.swim!.met(connection.peer, role: connection.peerRole, incarnation: nil)
                // Built from every member record, so only for a packet that would move a member.
                let connected = state.swim!.wouldMove(packet) ? connectedPeers(in: state) : []
                guard let (message, news) = state.swim!.message(from: packet, now: now, connected: connected) else {
                    return SWIMEffects()
                }
                let actions = state.swim!.detector.receive(message, from: connection.peer.name, now: now)
                var effects = carryOut(actions, state: &state, now: now)
                effects.pulls += pullsDue(among: news, state: &state, now: now)
                return effects
            })
    }

    /// A peer proven by its handshake: the detector learns of it, and of the members its node state
    /// lists (without passing those on: a list copied whole is no news to the others).
    func swimMet(_ hello: Hello, nodeState: NodeState?, state: inout SystemState, now: ContinuousClock.Instant)
        -> SWIMEffects
    {
        guard runsSWIM, hello.node.name != node.name else { return SWIMEffects() }
        state.swim!.met(hello.node, role: hello.role, incarnation: nodeState?.swimIncarnation)
        var actions = state.swim!.detector.add(
            hello.node.name, incarnation: nodeState?.swimIncarnation ?? 0, now: now)
        var news: [String] = []
        let connected = connectedPeers(in: state)
        for known in nodeState?.members ?? [] where known.node.name != hello.node.name {
            guard let incarnation = known.swimIncarnation, known.node.name != node.name else { continue }
            let gossip = SWIMPacket.Gossip(
                node: known.node, role: known.role, incarnation: incarnation, status: 0,
                stateVersion: known.stateVersion ?? 0,
                // Held to what the wire allows, or this node would gossip what its peers must refuse.
                keys: Array(
                    (known.keys ?? []).filter { $0.utf8.count <= SWIMPacket.maximumKeyLength }
                        .prefix(SWIMPacket.maximumKeys)))
            if state.swim!.heardOf(gossip, now: now, connected: connected) { news.append(known.node.name) }
            actions += state.swim!.detector.add(known.node.name, incarnation: incarnation, announce: false, now: now)
        }
        var effects = carryOut(actions, state: &state, now: now)
        effects.pulls += pullsDue(among: news, state: &state, now: now)
        return effects
    }

    /// `key` is looked up here: from now on registrations under it are pulled (with SWIM).
    func interested(in key: String, state: inout SystemState) -> SWIMEffects {
        guard state.interests.insert(key).inserted, runsSWIM else { return SWIMEffects() }
        var effects = SWIMEffects()
        effects.pulls = pullsDue(among: Array(state.swim!.directory.keys), state: &state, now: .now)
        return effects
    }

    private func pullsDue(among names: [String], state: inout SystemState, now: ContinuousClock.Instant)
        -> [(ClusterNode, UInt64)]
    {
        guard runsSWIM, !names.isEmpty, !state.interests.isEmpty else { return [] }
        let membership = state.membership
        return state.swim!.pullsDue(
            among: names, interests: state.interests, now: now, retryAfter: pullRetry,
            held: { name in membership.record(name).map { ($0.stateVersion, Array($0.registrations.keys)) } })
    }

    /// `name` said itself that it is leaving.
    func swimLeft(_ name: String, state: inout SystemState, now: ContinuousClock.Instant) -> SWIMEffects {
        guard runsSWIM else { return SWIMEffects() }
        let actions = state.swim!.detector.left(name, now: now)
        return carryOut(actions, state: &state, now: now)
    }

    /// Under the lock: verdicts become statuses, messages find their connections.
    func carryOut(_ actions: [SWIMAction], state: inout SystemState, now: ContinuousClock.Instant) -> SWIMEffects {
        var effects = SWIMEffects()
        var changed = false
        for action in actions {
            switch action {
            case .forgotten(let name):
                state.swim?.forget(name)
            case .send(let message, let name):
                guard let entry = state.swim?.directory[name], let packet = state.swim?.packet(for: message) else {
                    continue
                }
                if let connection = swimConnection(to: entry.node, in: state) {
                    effects.sends.append((packet, connection))
                } else {
                    effects.dials.append((packet, entry.node))
                    if packet.kind == .ping {
                        state.swim!.detector.probeAwaitsConnection(packet.sequence, allowance: connectAllowance)
                    }
                }
            case .changed(let update):
                guard let entry = state.swim?.directory[update.name] else { continue }
                let status: MemberStatus =
                    switch update.status {
                    case .alive: .up
                    case .suspect: .suspect
                    case .down: .down
                    }
                let before = state.membership.status(of: update.name)
                if let closing = state.membership.verdict(status, node: entry.node, role: entry.role, now: now) {
                    effects.closing.append(closing)
                }
                if status == .down, before != nil, before != .down { effects.downed.append(update.name) }
                changed = true
            }
        }
        // Members let go of to make room (here or while a packet's addresses were taken in).
        for name in state.swim?.takeForgotten() ?? [] {
            if let closing = state.membership.forget(name) { effects.closing.append(closing) }
            changed = true
        }
        if changed { publishChanges(&state) }
        return effects
    }

    /// The processes this node holds a connection to, dialled or accepted, as their handshakes
    /// proved them.
    private func connectedPeers(in state: SystemState) -> Set<ClusterNode> {
        Set(state.inbound.values.map(\.peer)).union(state.membership.records.values.compactMap { $0.connection?.peer })
    }

    /// A connection to that very process, dialled or accepted.
    private func swimConnection(to target: ClusterNode, in state: SystemState) -> PeerConnection? {
        if let record = state.membership.record(target.name), record.incarnation == target.incarnation,
            let connection = record.connection
        {
            return connection
        }
        return state.inbound.values.first { $0.peer == target }
    }

    func perform(_ effects: SWIMEffects) {
        for name in effects.downed {
            logger.warning("node \(name) is down: suspected and not refuted within \(settings.swim.suspicionTimeout)")
        }
        for connection in effects.closing { connection.close() }
        for (packet, connection) in effects.sends { connection.send(swim: packet) }
        for (packet, target) in effects.dials {
            // A failed dial is a probe unanswered: the detector's timeouts deal with it.
            Task { [weak self] in
                guard let self, let connection = try? await self.connection(to: target) else { return }
                connection.send(swim: packet)
                if packet.kind == .ping {
                    self.state.withLock { $0.swim?.detector.probeSent(packet.sequence, now: .now) }
                }
            }
        }
        for (target, held) in effects.pulls {
            // The pong carries the node state when `held` is behind; a failed pull is asked again.
            Task { [weak self] in
                guard let self, let connection = try? await self.connection(to: target) else { return }
                connection.send(.ping(Ping(sequence: 0, knownStateVersion: held)))
            }
        }
    }

    /// With SWIM, the heartbeat keeps a dialled connection only while it is used: one carrying
    /// calls is pinged (so neither side takes it for idle mid-call), one unused for
    /// `idleConnectionTimeout` is closed. Returns the pings to send.
    func keepOrClose(
        _ pings: [(PeerConnection, Ping)], closing: inout [PeerConnection]
    ) -> [(PeerConnection, Ping)] {
        guard settings.membershipProtocol == .swim else { return pings }
        let idle = settings.idleConnectionTimeout
        return pings.filter { connection, _ in
            if connection.carriesCalls(within: idle) { return true }
            if connection.unused >= idle { closing.append(connection) }
            return false
        }
    }
}
