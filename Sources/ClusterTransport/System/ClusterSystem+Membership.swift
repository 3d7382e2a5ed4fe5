import Foundation
import NIOCore

extension ClusterSystem {
    /// Every node this node knows of, itself included, with the status it sees.
    public var members: [Member] {
        state.withLock { membersSnapshot($0) }
    }

    /// Each member's name and status as this node sees it, itself included, in no order: the cheap
    /// look for a caller polling many nodes (`members` builds and sorts the full view).
    public var memberStatuses: [(name: String, status: MemberStatus)] {
        let statuses = state.withLock { $0.membership.statuses }
        return [(node.name, .up)] + statuses.map { ($0.key, $0.value) }
    }

    /// What this node has sent so far and the connections it holds now.
    public var traffic: Traffic {
        let open = state.withLock { $0.inbound.count + $0.membership.connectedCount }
        return Traffic(
            framesSent: trafficCounters.framesSent, bytesSent: trafficCounters.bytesSent, openConnections: open)
    }

    /// The member list now, then again each time a status changes or a node appears or goes.
    public func membershipUpdates() -> AsyncStream<[Member]> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: [Member].self, bufferingPolicy: .bufferingNewest(16))
        let id = UUID()
        state.withLock { state in
            continuation.yield(membersSnapshot(state))
            if state.isShutDown {
                continuation.finish()
            } else {
                state.membershipSubscribers[id] = continuation
            }
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.membershipSubscribers.removeValue(forKey: id) }
        }
        return stream
    }

    func membersSnapshot(_ state: SystemState) -> [Member] {
        let me = Member(
            name: node.name, role: role, host: node.host, port: node.port, incarnation: node.incarnation,
            status: .up, lastHeartbeat: Date(), isLocal: true)
        return [me] + state.membership.records.values.map(\.publicView).sorted { $0.name < $1.name }
    }

    func addSeeds() {
        let now = ContinuousClock.now
        state.withLock { state in
            for seed in settings.seeds {
                state.membership.addSeed(name: seed.name, host: seed.host, port: seed.port, now: now)
            }
        }
    }

    func startHeartbeats() {
        let interval = settings.heartbeatInterval
        let task = Task { [weak self] in
            while !Task.isCancelled {
                guard let self else { return }
                self.tick()
                try? await Task.sleep(for: interval)
            }
        }
        heartbeatTask.withLock { $0 = task }
    }

    /// One heartbeat: the membership machine judges everyone's silence and says whom to ping, dial
    /// and close; that is done here, after the lock.
    func tick() {
        let now = ContinuousClock.now
        let group = self.group
        let (actions, dials) = state.withLock {
            state -> (
                Membership<PeerConnection>.Tick,
                [(Membership<PeerConnection>.Dial, EventLoopPromise<(PeerConnection, Hello)>)]
            ) in
            guard !state.isShutDown else { return (.init(), []) }
            let heardOf = state.swim?.detector.members
            var actions = state.membership.tick(
                now: now, dialsSeed: { name in heardOf.map { $0[name] == nil } ?? true },
                dialsJoinSeeds: !(state.swim?.hasLiveMember ?? false))
            actions.pings = keepOrClose(actions.pings, closing: &actions.closing)
            var dials: [(Membership<PeerConnection>.Dial, EventLoopPromise<(PeerConnection, Hello)>)] = []
            // Inbound connections whose dialler went quiet (its pings stopped) are let go.
            for (key, connection) in state.inbound where connection.silence >= settings.inboundIdleTimeout {
                state.inbound[key] = nil
                actions.closing.append(connection)
            }
            for dial in actions.dials {
                let promise = group.next().makePromise(of: (PeerConnection, Hello).self)
                if let name = dial.name { state.dials[name] = promise.futureResult }
                dials.append((dial, promise))
            }
            publishChanges(&state)
            return (actions, dials)
        }
        for name in actions.downed {
            logger.warning("node \(name) is down: silent for \(settings.failureTimeout)")
        }
        for connection in actions.closing { connection.close() }
        for (connection, ping) in actions.pings { connection.send(.ping(ping)) }
        for (dial, promise) in dials {
            startDial(promise, host: dial.host, port: dial.port, expectedName: dial.name, joinIndex: dial.seedIndex)
        }
    }

    /// Sends this node's state to every peer now instead of at their next ping, so a registration
    /// or a deregistration (a draining worker) is seen within a round trip.
    func pushState() {
        let (connections, pong) = state.withLock { state -> ([PeerConnection], Pong?) in
            guard !state.isShutDown, let body = try? Serialization.encode(localNodeState(state)) else {
                return ([], nil)
            }
            let connections = Array(state.inbound.values) + state.membership.connections
            return (connections, Pong(sequence: 0, stateVersion: state.stateVersion, state: body))
        }
        guard let pong else { return }
        for connection in connections { connection.send(.pong(pong)) }
    }

    /// Takes in a peer's `NodeState` (through the membership machine's rules); returns it decoded.
    @discardableResult
    func apply(
        _ body: ByteBuffer, from peer: ClusterNode, state: inout SystemState, now: ContinuousClock.Instant
    ) -> NodeState? {
        guard let nodeState = try? Serialization.decode(NodeState.self, from: body, system: self) else { return nil }
        let refused = state.membership.apply(nodeState, from: peer.name, incarnation: peer.incarnation, now: now)
        for key in refused {
            logger.warning("node \(peer.name) may not register under '\(key)' with its role; ignored")
        }
        return nodeState
    }

    /// Tells subscribers what changed: receptionist listings and the member list.
    func publishChanges(_ state: inout SystemState) {
        // The nodes this one vouches for are part of its node state: a change must reach peers.
        // (With SWIM the member list travels by gossip, not in node states pulled by version.)
        if !runsSWIM, state.membership.vouchedForChanged() { state.stateVersion += 1 }
        notifyListings(&state)
        guard state.membership.revision != state.publishedRevision else { return }
        state.publishedRevision = state.membership.revision
        let snapshot = membersSnapshot(state)
        // Compared field by field, without building anything: at hundreds of members this runs
        // at every change the detector reports.
        let unchanged =
            snapshot.count == state.lastMembership.count
            && zip(snapshot, state.lastMembership).allSatisfy {
                $0.name == $1.name && $0.status == $1.status && $0.incarnation == $1.incarnation && $0.role == $1.role
            }
        if !unchanged {
            // Each peer that came up (first seen, or back from suspect or down) is logged once, so
            // an operator can read from one node's log whom it reached and when.
            let before = Dictionary(
                state.lastMembership.map { ($0.name, $0.status) }, uniquingKeysWith: { first, _ in first })
            for member in snapshot where !member.isLocal && member.status == .up && before[member.name] != .up {
                logger.info("node \(member.name) is up")
            }
            state.lastMembership = snapshot
            for continuation in state.membershipSubscribers.values { continuation.yield(snapshot) }
        }
    }
}
