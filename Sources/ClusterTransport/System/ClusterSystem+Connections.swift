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
        try sync.addHandler(
            MessageToByteHandler(FrameEncoder(maximumFrameSize: settings.maximumFrameSize)))
        try sync.addHandler(EnvelopeCodec())
        try sync.addHandler(
            HandshakeHandler(
                side: direction == .inbound ? .listener : .dialer(expectedName: expectedName),
                timeout: TimeAmount(settings.handshakeTimeout), dialledHost: dialledHost,
                localHello: { [self] in makeHello() },
                settled: direction == .inbound
                    ? { [self] in _ = unauthenticated.wrappingSubtract(1, ordering: .relaxed) } : {}))
        try sync.addHandler(
            ConnectionHandler(direction: direction, delegate: self, established: established))
    }

    func makeHello() -> Hello {
        Hello(node: node, role: role, state: encodedLocalState())
    }

    private func encodedLocalState() -> ByteBuffer {
        let nodeState = state.withLock { localNodeState($0) }
        return (try? Serialization.encode(nodeState)) ?? ByteBuffer()
    }

    func localNodeState(_ state: SystemState) -> NodeState {
        let members = state.members.values.compactMap { record -> NodeState.KnownNode? in
            guard record.status == .up, let incarnation = record.incarnation else { return nil }
            return NodeState.KnownNode(
                node: ClusterNode(
                    name: record.name, host: record.host, port: record.port, incarnation: incarnation),
                role: record.role)
        }
        return NodeState(
            version: state.stateVersion, registrations: state.registrations, members: members)
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
            let now = ContinuousClock.now
            var record =
                state.members[target.name]
                ?? MemberRecord(
                    name: target.name, role: "", host: target.host, port: target.port, incarnation: nil,
                    isSeed: false, now: now, backoff: settings.heartbeatInterval)
            defer { state.members[target.name] = record }
            if let incarnation = record.incarnation, incarnation != target.incarnation {
                return .fail(
                    ClusterError.actorGone(
                        "node \(target.name) has restarted since this actor reference was made"))
            }
            switch record.link {
            case .connected(let connection):
                return .ready(connection)
            case .connecting(let future):
                return .wait(future)
            case .idle:
                if now < record.retryAt, let lastError = record.lastError {
                    return .fail(ClusterError.unreachable(node: target.name, reason: lastError))
                }
                let promise = group.next().makePromise(of: (PeerConnection, Hello).self)
                record.link = .connecting(promise.futureResult)
                return .dial(promise, host: record.host, port: record.port)
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
        var stale: PeerConnection?
        let keep = state.withLock { state -> Bool in
            guard !state.isShutDown else { return false }
            if let joinIndex, state.joinSeeds.indices.contains(joinIndex) {
                state.joinSeeds[joinIndex].connecting = false
                state.joinSeeds[joinIndex].isJoined = true
            }
            let name = hello.node.name
            var record =
                state.members[name]
                ?? MemberRecord(
                    name: name, role: hello.role, host: hello.node.host, port: hello.node.port,
                    incarnation: nil, isSeed: joinIndex != nil, now: now, backoff: settings.heartbeatInterval)
            if joinIndex != nil { record.isSeed = true }
            if let existing = record.connection, existing !== connection {
                // Two dials raced; the first one stays.
                return false
            }
            stale = adopt(hello, into: &record, now: now)
            record.link = .connected(connection)
            record.backoff = settings.heartbeatInterval
            record.lastError = nil
            state.members[name] = record
            apply(hello.state, from: name, state: &state, now: now)
            publishChanges(&state)
            return true
        }
        stale?.close()
        if keep {
            logger.debug("connected to node \(hello.node)")
        } else {
            connection.close()
        }
    }

    private func dialFailed(expectedName: String?, joinIndex: Int?, error: any Error) {
        let now = ContinuousClock.now
        let message = "\(error)"
        let firstFailure = state.withLock { state -> Bool in
            if let joinIndex, state.joinSeeds.indices.contains(joinIndex) {
                var seed = state.joinSeeds[joinIndex]
                let first = seed.lastError == nil
                seed.connecting = false
                seed.lastError = message
                seed.retryAt = now + seed.backoff
                seed.backoff = min(seed.backoff * 2, settings.maximumReconnectBackoff)
                state.joinSeeds[joinIndex] = seed
                return first
            }
            guard let name = expectedName, var record = state.members[name] else { return false }
            if case .connecting = record.link { record.link = .idle }
            let first = record.lastError != message
            record.lastError = message
            record.retryAt = now + record.backoff
            record.backoff = min(record.backoff * 2, settings.maximumReconnectBackoff)
            state.members[name] = record
            return first
        }
        if firstFailure {
            logger.debug("cannot reach \(expectedName ?? "seed"): \(message)")
        }
    }

    /// Takes a peer's claimed identity; a new incarnation means everything known of the old one is
    /// gone. Returns the old incarnation's connection, which the caller closes once it has let go of
    /// the lock (closing runs `channelInactive`, which takes the lock too).
    func adopt(_ hello: Hello, into record: inout MemberRecord, now: ContinuousClock.Instant) -> PeerConnection? {
        var stale: PeerConnection?
        if record.incarnation != hello.node.incarnation {
            record.registrations = [:]
            record.refusedKeys = []
            record.stateVersion = 0
            if let old = record.connection, old.peer.incarnation != hello.node.incarnation {
                stale = old
                record.link = .idle
            }
        }
        record.incarnation = hello.node.incarnation
        record.role = hello.role
        record.host = hello.node.host
        record.port = hello.node.port
        heard(from: &record, now: now)
        return stale
    }

    func heard(from record: inout MemberRecord, now: ContinuousClock.Instant) {
        record.lastHeartbeat = now
        record.lastHeartbeatDate = Date()
        if record.status != .up, record.connection != nil || record.status == .down {
            record.status = record.connection != nil ? .up : .suspect
            record.statusSince = now
        }
    }

    // MARK: ConnectionDelegate

    func accepted(_ connection: PeerConnection, hello: Hello) {
        let now = ContinuousClock.now
        var stale: PeerConnection?
        let accepted = state.withLock { state -> Bool in
            guard !state.isShutDown else { return false }
            state.inbound[ObjectIdentifier(connection)] = connection
            let name = hello.node.name
            var record =
                state.members[name]
                ?? MemberRecord(
                    name: name, role: hello.role, host: hello.node.host, port: hello.node.port,
                    incarnation: nil, isSeed: false, now: now, backoff: settings.heartbeatInterval)
            stale = adopt(hello, into: &record, now: now)
            if case .idle = record.link { record.retryAt = now }
            state.members[name] = record
            apply(hello.state, from: name, state: &state, now: now)
            publishChanges(&state)
            return true
        }
        stale?.close()
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
            let name = connection.peer.name
            guard var record = state.members[name], record.incarnation == connection.peer.incarnation
            else { return }
            heard(from: &record, now: now)
            state.members[name] = record
            if let body = pong.state {
                apply(body, from: name, state: &state, now: now)
            }
            publishChanges(&state)
        }
    }

    func peerIsLeaving(_ node: ClusterNode) {
        let now = ContinuousClock.now
        let connection = state.withLock { state -> PeerConnection? in
            guard var record = state.members[node.name], record.incarnation == node.incarnation else {
                return nil
            }
            let connection = record.connection
            if record.isSeed {
                record.registrations = [:]
                record.status = .down
                record.statusSince = now
                record.lastHeartbeat = nil
                record.firstSeen = now - settings.failureTimeout
                record.link = .idle
                record.retryAt = now + settings.heartbeatInterval
                state.members[node.name] = record
            } else {
                state.members[node.name] = nil
            }
            publishChanges(&state)
            return connection
        }
        logger.info("node \(node.name) left the cluster")
        connection?.close()
    }

    func connectionClosed(_ connection: PeerConnection, reason: String) {
        let now = ContinuousClock.now
        state.withLock { state in
            if connection.direction == .inbound {
                state.inbound[ObjectIdentifier(connection)] = nil
                return
            }
            let name = connection.peer.name
            guard var record = state.members[name], record.connection === connection else { return }
            record.link = .idle
            record.lastError = reason
            record.retryAt = now + record.backoff
            if record.status == .up {
                record.status = .suspect
                record.statusSince = now
            }
            state.members[name] = record
            publishChanges(&state)
        }
        if !state.withLock({ $0.isShutDown }) {
            logger.debug("connection to node \(connection.peer.name) closed: \(reason)")
        }
    }
}
