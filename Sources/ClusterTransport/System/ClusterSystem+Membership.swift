import Foundation
import NIOCore

extension ClusterSystem {
    /// Every node this node knows of, itself included, with the status it sees.
    public var members: [Member] {
        state.withLock { membersSnapshot($0) }
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
        return [me] + state.members.values.map(\.publicView).sorted { $0.name < $1.name }
    }

    func addSeeds() {
        let now = ContinuousClock.now
        state.withLock { state in
            for seed in settings.seeds {
                if let name = seed.name {
                    guard name != node.name else { continue }
                    state.members[name] = MemberRecord(
                        name: name, role: "", host: seed.host, port: seed.port, incarnation: nil, isSeed: true,
                        now: now, backoff: settings.heartbeatInterval)
                } else {
                    state.joinSeeds.append(
                        SystemState.JoinSeed(
                            host: seed.host, port: seed.port, retryAt: now, backoff: settings.heartbeatInterval))
                }
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

    /// One heartbeat: ping the connected, dial the due, and judge everyone's status by their silence.
    func tick() {
        struct Dial {
            var promise: EventLoopPromise<(PeerConnection, Hello)>
            var host: String
            var port: Int
            var name: String?
            var joinIndex: Int?
        }
        let now = ContinuousClock.now
        var dials: [Dial] = []
        var pings: [(PeerConnection, Ping)] = []
        var closing: [PeerConnection] = []
        var downed: [String] = []
        state.withLock { state in
            guard !state.isShutDown else { return }
            for name in Array(state.members.keys) {
                guard var record = state.members[name] else { continue }
                let silence = now - (record.lastHeartbeat ?? record.firstSeen)
                let status: MemberStatus =
                    silence >= settings.failureTimeout
                    ? .down
                    : (record.connection == nil || silence >= settings.effectiveSuspectTimeout
                        ? .suspect : .up)
                if status != record.status {
                    if status == .down {
                        downed.append(name)
                        // A silent connection may still look open; closing it fails its calls now.
                        if let connection = record.connection {
                            closing.append(connection)
                            record.link = .idle
                        }
                    }
                    record.status = status
                    record.statusSince = now
                }
                if !record.isSeed, record.status == .down,
                    now - record.statusSince >= settings.failureTimeout * 3
                {
                    state.members[name] = nil
                    continue
                }
                switch record.link {
                case .connected(let connection):
                    record.pingSequence += 1
                    pings.append(
                        (
                            connection,
                            Ping(sequence: record.pingSequence, knownStateVersion: record.stateVersion)
                        ))
                case .idle where now >= record.retryAt:
                    let promise = group.next().makePromise(of: (PeerConnection, Hello).self)
                    record.link = .connecting(promise.futureResult)
                    dials.append(Dial(promise: promise, host: record.host, port: record.port, name: name))
                case .idle, .connecting:
                    break
                }
                state.members[name] = record
            }
            // Inbound connections whose dialler went quiet (its pings stopped) are let go.
            for (key, connection) in state.inbound where connection.silence >= settings.inboundIdleTimeout {
                state.inbound[key] = nil
                closing.append(connection)
            }
            for index in state.joinSeeds.indices {
                let seed = state.joinSeeds[index]
                guard !seed.isJoined, !seed.connecting, now >= seed.retryAt else { continue }
                state.joinSeeds[index].connecting = true
                let promise = group.next().makePromise(of: (PeerConnection, Hello).self)
                dials.append(
                    Dial(promise: promise, host: seed.host, port: seed.port, name: nil, joinIndex: index))
            }
            publishChanges(&state)
        }
        for name in downed {
            logger.warning("node \(name) is down: silent for \(settings.failureTimeout)")
        }
        for connection in closing { connection.close() }
        for (connection, ping) in pings { connection.send(.ping(ping)) }
        for dial in dials {
            startDial(
                dial.promise, host: dial.host, port: dial.port, expectedName: dial.name,
                joinIndex: dial.joinIndex)
        }
    }

    /// Sends this node's state to every peer now instead of at their next ping, so a registration
    /// or a deregistration (a draining worker) is seen within a round trip.
    func pushState() {
        let (connections, pong) = state.withLock { state -> ([PeerConnection], Pong?) in
            guard !state.isShutDown, let body = try? Serialization.encode(localNodeState(state)) else {
                return ([], nil)
            }
            let connections = Array(state.inbound.values) + state.members.values.compactMap(\.connection)
            return (connections, Pong(sequence: 0, stateVersion: state.stateVersion, state: body))
        }
        guard let pong else { return }
        for connection in connections { connection.send(.pong(pong)) }
    }

    /// Takes in a peer's `NodeState`: its registrations, and nodes it knows that this node does not.
    func apply(
        _ body: ByteBuffer, from name: String, state: inout SystemState, now: ContinuousClock.Instant
    ) {
        guard let nodeState = try? Serialization.decode(NodeState.self, from: body, system: self),
            var record = state.members[name]
        else { return }
        // Versions only move forward: an old state arriving late must not undo a newer one.
        guard nodeState.version >= record.stateVersion else { return }
        // Only keys the peer's certified role may hold (a worker cannot pose as the coordinator).
        var registrations = nodeState.registrations
        for key in Array(registrations.keys) {
            if let roles = settings.registrationRoles[key], !roles.contains(record.role) {
                registrations[key] = nil
                if !record.refusedKeys.contains(key) {
                    record.refusedKeys.insert(key)
                    logger.warning("node \(name) (\(record.role)) may not register under '\(key)'; ignored")
                }
            }
        }
        record.registrations = registrations
        record.stateVersion = nodeState.version
        state.members[name] = record
        for known in nodeState.members
        where known.node.name != node.name && state.members[known.node.name] == nil {
            state.members[known.node.name] = MemberRecord(
                name: known.node.name, role: known.role, host: known.node.host, port: known.node.port,
                incarnation: nil, isSeed: false, now: now, backoff: settings.heartbeatInterval)
        }
    }

    /// Tells subscribers what changed: receptionist listings and the member list.
    func publishChanges(_ state: inout SystemState) {
        // The nodes this one vouches for are part of its node state: a change must reach peers.
        var reachable: [String: UInt64] = [:]
        for record in state.members.values where record.status == .up {
            reachable[record.name] = record.incarnation ?? 0
        }
        if reachable != state.gossipedMembers {
            state.gossipedMembers = reachable
            state.stateVersion += 1
        }
        notifyListings(&state)
        let snapshot = membersSnapshot(state)
        let comparable = snapshot.map {
            [$0.name, $0.status.rawValue, String($0.incarnation ?? 0), $0.role]
        }
        let previous = state.lastMembership.map {
            [$0.name, $0.status.rawValue, String($0.incarnation ?? 0), $0.role]
        }
        if comparable != previous {
            state.lastMembership = snapshot
            for continuation in state.membershipSubscribers.values { continuation.yield(snapshot) }
        }
    }
}
