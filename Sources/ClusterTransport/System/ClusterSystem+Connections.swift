import Foundation
import NIOCore
import NIOPosix

extension ClusterSystem: ConnectionDelegate {
    /// The same pipeline in both directions; only the TLS role and who speaks first differ.
    func configurePipeline(
        _ channel: any Channel, direction: PeerConnection.Direction,
        established: EventLoopPromise<(PeerConnection, Hello)>?, expectedName: String? = nil,
        dialledHost: String? = nil
    ) throws {
        let sync = channel.pipeline.syncOperations
        if direction == .inbound {
            // Strangers may hold only so many connections that have not proved who they are.
            let admitted = unauthenticated.wrappingAdd(1, ordering: .relaxed).newValue
            guard admitted <= settings.maxUnauthenticatedConnections else {
                unauthenticated.wrappingSubtract(1, ordering: .relaxed)
                refusedConnections.increment()
                channel.close(promise: nil)
                return
            }
        }
        switch direction {
        case .inbound: try sync.addHandler(tls.makeServerHandler())
        case .outbound: try sync.addHandler(try tls.makeClientHandler())
        }
        try sync.addHandler(
            ByteToMessageHandler(FrameDecoder(maximumFrameSize: settings.maximumFrameSize)))
        try sync.addHandler(EnvelopeCodec(maximumFrameSize: settings.maximumFrameSize, traffic: trafficCounters))
        try sync.addHandler(
            HandshakeHandler(
                side: direction == .inbound ? .listener : .dialer(expectedName: expectedName),
                timeout: TimeAmount(settings.handshakeTimeout), dialledHost: dialledHost,
                localHello: { [self] peer in makeHello(answering: peer) },
                settled: direction == .inbound
                    ? { [self] in _ = unauthenticated.wrappingSubtract(1, ordering: .relaxed) } : {}))
        // After the handshake: replies to this node's calls, then calls to this node, then
        // heartbeats and membership (each handler takes its envelopes and passes the rest on).
        let calls = OutgoingCallHandler()
        try sync.addHandler(calls)
        try sync.addHandler(IncomingCallHandler(delegate: self))
        try sync.addHandler(
            PeerMessageHandler(direction: direction, delegate: self, calls: calls, established: established))
    }

    /// With SWIM the member list (kilobytes at a few hundred nodes) goes only to a node that is
    /// joining and says so: connections come and go all the time, and gossip keeps the others current.
    func makeHello(answering peer: Hello? = nil) -> Hello {
        let joining =
            peer.flatMap { try? Serialization.decode(NodeState.self, from: $0.state, system: self) }?.joining ?? false
        let nodeState = state.withLock { localNodeState($0, withMembers: joining) }
        return Hello(node: node, role: role, state: (try? Serialization.encode(nodeState)) ?? ByteBuffer())
    }

    /// `withMembers` (SWIM only): whether the live members are listed.
    func localNodeState(_ state: SystemState, withMembers: Bool = false) -> NodeState {
        if let swim = state.swim {
            return NodeState(
                version: state.stateVersion, registrations: state.registrations,
                members: withMembers ? swim.knownNodes : [], swimIncarnation: swim.detector.incarnation,
                joining: swim.hasLiveMember ? nil : true)
        }
        return NodeState(
            version: state.stateVersion, registrations: state.registrations, members: state.membership.knownNodes)
    }

    /// Opens a connection and completes `established` once the peer has proved who it is.
    func dial(
        host: String, port: Int, expectedName: String?,
        established: EventLoopPromise<(PeerConnection, Hello)>
    ) {
        ClientBootstrap(group: established.futureResult.eventLoop)
            .connectTimeout(TimeAmount(settings.connectTimeout))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture {
                    try configurePipeline(
                        channel, direction: .outbound, established: established, expectedName: expectedName,
                        dialledHost: host)
                }
            }
            .connect(host: host, port: port)
            .whenFailure { error in
                established.fail(
                    ClusterError.unreachable(node: expectedName ?? "\(host):\(port)", reason: "\(error)"))
            }
    }

    /// The connection calls to `target` go over, dialling it if needed.
    func connection(to target: ClusterNode) async throws -> PeerConnection {
        enum Step {
            case ready(PeerConnection)
            case wait(EventLoopFuture<(PeerConnection, Hello)>)
            case dial(EventLoopPromise<(PeerConnection, Hello)>, host: String, port: Int)
            case fail(any Error)
        }
        let step = state.withLock { state -> Step in
            guard !state.isShutDown else { return .fail(ClusterError.shutDown) }
            switch state.membership.route(to: target, now: .now) {
            case .ready(let connection):
                return .ready(connection)
            case .wait:
                guard let future = state.dials[target.name] else {
                    return .fail(ClusterError.unreachable(node: target.name, reason: "a dial is under way"))
                }
                return .wait(future)
            case .dial(let host, let port):
                let promise = group.next().makePromise(of: (PeerConnection, Hello).self)
                state.dials[target.name] = promise.futureResult
                return .dial(promise, host: host, port: port)
            case .failure(let error):
                return .fail(error)
            }
        }
        switch step {
        case .ready(let connection):
            return connection
        case .fail(let error):
            throw error
        case .wait(let future):
            return try await future.get().0
        case .dial(let promise, let host, let port):
            startDial(promise, host: host, port: port, expectedName: target.name, joinIndex: nil)
            return try await promise.futureResult.get().0
        }
    }

    /// Dials and records the outcome on the member (or join seed) it was for.
    func startDial(
        _ promise: EventLoopPromise<(PeerConnection, Hello)>, host: String, port: Int,
        expectedName: String?,
        joinIndex: Int?
    ) {
        promise.futureResult.whenComplete { [self] result in
            switch result {
            case .success(let (connection, hello)):
                dialSucceeded(connection, hello: hello, joinIndex: joinIndex)
            case .failure(let error):
                dialFailed(expectedName: expectedName, joinIndex: joinIndex, error: error)
            }
        }
        dial(host: host, port: port, expectedName: expectedName, established: promise)
    }

    private func dialSucceeded(_ connection: PeerConnection, hello: Hello, joinIndex: Int?) {
        let now = ContinuousClock.now
        let (keep, stale, effects) = state.withLock { state -> (Bool, PeerConnection?, SWIMEffects) in
            guard !state.isShutDown else { return (false, nil, SWIMEffects()) }
            if state.dials[hello.node.name]?.eventLoop === connection.channel.eventLoop {
                state.dials[hello.node.name] = nil
            }
            let outcome = state.membership.dialSucceeded(connection, hello: hello, seedIndex: joinIndex, now: now)
            var effects = SWIMEffects()
            if outcome.keep {
                let nodeState = apply(hello.state, from: hello.node, state: &state, now: now)
                effects = swimMet(hello, nodeState: nodeState, state: &state, now: now)
                publishChanges(&state)
            }
            return (outcome.keep, outcome.stale, effects)
        }
        // Closed outside the lock: closing runs `channelInactive`, which takes it.
        stale?.close()
        perform(effects)
        if keep {
            logger.debug("connected to node \(hello.node)")
        } else {
            connection.close()
        }
    }

    private func dialFailed(expectedName: String?, joinIndex: Int?, error: any Error) {
        let message = "\(error)"
        let firstFailure = state.withLock { state -> Bool in
            if let expectedName { state.dials[expectedName] = nil }
            return state.membership.dialFailed(name: expectedName, seedIndex: joinIndex, message: message, now: .now)
        }
        if firstFailure {
            logger.debug("cannot reach \(expectedName ?? "seed"): \(message)")
        }
    }

    // MARK: ConnectionDelegate

    func accepted(_ connection: PeerConnection, hello: Hello) {
        let now = ContinuousClock.now
        var stale: PeerConnection?
        var effects = SWIMEffects()
        let accepted = state.withLock { state -> Bool in
            guard !state.isShutDown else { return false }
            state.inbound[ObjectIdentifier(connection)] = connection
            stale = state.membership.accepted(hello, now: now)
            let nodeState = apply(hello.state, from: hello.node, state: &state, now: now)
            effects = swimMet(hello, nodeState: nodeState, state: &state, now: now)
            publishChanges(&state)
            return true
        }
        stale?.close()
        perform(effects)
        if !accepted { connection.close() }
    }

    var maxIncomingCalls: Int { settings.maxIncomingCallsPerConnection }

    func incomingCallStarted() {
        incomingCalls.add(1, ordering: .relaxed)
    }

    func incomingCallEnded() {
        incomingCalls.subtract(1, ordering: .relaxed)
    }

    func pong(answering ping: Ping, from peer: ClusterNode) -> Pong {
        state.withLock { state in
            let upToDate = ping.knownStateVersion == state.stateVersion
            let body = upToDate ? nil : try? Serialization.encode(localNodeState(state))
            return Pong(sequence: ping.sequence, stateVersion: state.stateVersion, state: body)
        }
    }

    func received(_ pong: Pong, from connection: PeerConnection) {
        let now = ContinuousClock.now
        state.withLock { state in
            state.membership.heard(from: connection.peer.name, incarnation: connection.peer.incarnation, now: now)
            if let body = pong.state {
                apply(body, from: connection.peer, state: &state, now: now)
            }
            publishChanges(&state)
        }
    }

    func peerIsLeaving(_ node: ClusterNode, announcedBy peer: ClusterNode) {
        let (accepted, connection, effects) = state.withLock { state -> (Bool, PeerConnection?, SWIMEffects) in
            let outcome = state.membership.leaving(node, announcedBy: peer, now: .now)
            guard outcome.accepted else { return (false, nil, SWIMEffects()) }
            let effects = swimLeft(node.name, state: &state, now: .now)
            publishChanges(&state)
            return (true, outcome.close, effects)
        }
        perform(effects)
        guard accepted else {
            logger.warning("node \(peer.name) announced that \(node.name) is leaving; ignored")
            return
        }
        logger.info("node \(node.name) left the cluster")
        connection?.close()
    }

    func connectionClosed(_ connection: PeerConnection, reason: String) {
        state.withLock { state in
            if connection.direction == .inbound {
                state.inbound[ObjectIdentifier(connection)] = nil
                return
            }
            state.membership.connectionClosed(connection, to: connection.peer.name, reason: reason, now: .now)
            publishChanges(&state)
        }
        if !state.withLock({ $0.isShutDown }) {
            logger.debug("connection to node \(connection.peer.name) closed: \(reason)")
        }
    }
}
