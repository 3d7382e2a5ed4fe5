import NIOCore

/// What a connection needs from the system once the peer is known.
protocol ConnectionDelegate: AnyObject, Sendable {
    /// A connection someone else dialled has passed its handshake.
    func accepted(_ connection: PeerConnection, hello: Hello)
    /// Runs an incoming call from a peer of the given certified role and returns its outcome.
    func execute(_ call: Call, callerRole: String?) async -> Reply.Outcome
    /// Brackets an incoming call from its arrival until its reply is written, so shutdown can wait.
    func incomingCallStarted()
    func incomingCallEnded()
    func pong(answering ping: Ping, from peer: ClusterNode) -> Pong
    func received(_ pong: Pong, from connection: PeerConnection)
    func peerIsLeaving(_ node: ClusterNode)
    /// Calls one connection may have running at once.
    var maxIncomingCalls: Int { get }
    func connectionClosed(_ connection: PeerConnection, reason: String)
}

/// Carries calls and heartbeats over one authenticated connection.
///
/// Pending calls live here, on the channel's event loop, so that the moment the connection goes away
/// every one of them fails with the reason, and a late reply can never find a caller that already
/// gave up.
final class ConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = Envelope
    typealias OutboundOut = Envelope

    private struct Pending {
        var promise: EventLoopPromise<Reply.Outcome>
        var timeout: Scheduled<Void>?
    }

    private let delegate: any ConnectionDelegate
    private let direction: PeerConnection.Direction
    /// Completed for connections this node dialled, once the peer is identified (or the dial failed).
    private let established: EventLoopPromise<(PeerConnection, Hello)>?
    private var connection: PeerConnection?
    private var pending: [UInt64: Pending] = [:]
    /// Incoming calls being worked on, by call id, so a `cancel` can reach them.
    private var running: [UInt64: Task<Void, Never>] = [:]
    private var readingPaused = false
    private var context: ChannelHandlerContext?
    private var closeReason: String?
    private var failure: (any Error)?

    init(
        direction: PeerConnection.Direction, delegate: any ConnectionDelegate,
        established: EventLoopPromise<(PeerConnection, Hello)>?
    ) {
        self.direction = direction
        self.delegate = delegate
        self.established = established
    }

    private var peerName: String { connection?.peer.name ?? "unidentified peer" }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let identified = event as? PeerIdentified else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let connection = PeerConnection(
            channel: context.channel, peer: identified.hello.node, peerRole: identified.hello.role,
            direction: direction, handler: NIOLoopBound(self, eventLoop: context.eventLoop))
        self.connection = connection
        if let established {
            established.succeed((connection, identified.hello))
        } else {
            delegate.accepted(connection, hello: identified.hello)
        }
    }

    /// Sends a call and arranges for exactly one outcome: the reply, the timeout, or the loss.
    func send(_ call: Call, timeout: TimeAmount, promise: EventLoopPromise<Reply.Outcome>) {
        guard let context, closeReason == nil else {
            promise.fail(
                ClusterError.connectionLost(node: peerName, reason: closeReason ?? "connection closed"))
            return
        }
        let id = call.id
        let target = call.target
        let peerName = self.peerName
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        let timeoutTask = context.eventLoop.scheduleTask(in: timeout) {
            let handler = loopBound.value
            handler.complete(
                id,
                with: .failure(
                    ClusterError.timedOut(
                        target: target, node: peerName, after: .nanoseconds(timeout.nanoseconds))))
            // The callee stops working on it too.
            handler.context?.writeAndFlush(handler.wrapOutboundOut(.cancel(id)), promise: nil)
        }
        pending[id] = Pending(promise: promise, timeout: timeoutTask)
        context.writeAndFlush(wrapOutboundOut(.call(call))).whenFailure { error in
            loopBound.value.complete(
                id, with: .failure(ClusterError.connectionLost(node: peerName, reason: "\(error)")))
        }
    }

    /// Gives up on a call (its task was cancelled); a reply arriving later is dropped.
    func cancel(_ id: UInt64) {
        guard pending[id] != nil else { return }
        complete(id, with: .failure(CancellationError()))
        context?.writeAndFlush(wrapOutboundOut(.cancel(id)), promise: nil)
    }

    private func complete(_ id: UInt64, with result: Result<Reply.Outcome, any Error>) {
        guard let entry = pending.removeValue(forKey: id) else { return }
        entry.timeout?.cancel()
        entry.promise.completeWith(result)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let connection else {
            context.close(promise: nil)
            return
        }
        connection.heardNow()
        switch unwrapInboundIn(data) {
        case .call(let call):
            run(call, from: connection, context: context)
        case .cancel(let id):
            running[id]?.cancel()
        case .reply(let reply):
            complete(reply.callID, with: .success(reply.outcome))
        case .ping(let ping):
            context.writeAndFlush(
                wrapOutboundOut(.pong(delegate.pong(answering: ping, from: connection.peer))), promise: nil)
        case .pong(let pong):
            delegate.received(pong, from: connection)
        case .leaving(let node):
            // Only about itself: a node announcing that another is leaving is ignored.
            guard node == connection.peer else {
                context.fireErrorCaught(
                    ClusterError.invalidCall("\(connection.peer.name) announced \(node.name) leaving"))
                return
            }
            delegate.peerIsLeaving(node)
        case .hello, .welcome:
            closeReason = "peer repeated its handshake"
            context.close(promise: nil)
        }
    }

    /// Runs an incoming call in a task of its own, bounded per connection: at the limit the
    /// connection stops being read (backpressure), and a call that still arrives is refused.
    private func run(_ call: Call, from connection: PeerConnection, context: ChannelHandlerContext) {
        let channel = context.channel
        guard running.count < delegate.maxIncomingCalls, running[call.id] == nil else {
            let failure = RemoteFailure(
                kind: .overloaded, typeName: "", message: "\(running.count) calls from this node are already running")
            context.writeAndFlush(
                wrapOutboundOut(.reply(Reply(callID: call.id, outcome: .failure(failure)))), promise: nil)
            return
        }
        let delegate = self.delegate
        let role = connection.peerRole
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        delegate.incomingCallStarted()
        running[call.id] = Task {
            let outcome = await delegate.execute(call, callerRole: role)
            channel.eventLoop.execute {
                loopBound.value.finished(call.id)
            }
            // Counted until the reply is on the wire, so a draining node waits for it.
            channel.writeAndFlush(Envelope.reply(Reply(callID: call.id, outcome: outcome))).whenComplete { _ in
                delegate.incomingCallEnded()
            }
        }
        if running.count >= delegate.maxIncomingCalls, !readingPaused {
            readingPaused = true
            channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    private func finished(_ id: UInt64) {
        running[id] = nil
        if readingPaused, running.count < delegate.maxIncomingCalls / 2 + 1, let context {
            readingPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            context.read()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if closeReason == nil {
            closeReason = "\(error)"
            failure = error
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let reason = closeReason ?? "connection closed by peer"
        closeReason = reason
        let failed = pending
        pending = [:]
        // Nobody will read their replies: their work stops.
        for task in running.values { task.cancel() }
        for (_, entry) in failed {
            entry.timeout?.cancel()
            entry.promise.fail(ClusterError.connectionLost(node: peerName, reason: reason))
        }
        if let connection {
            delegate.connectionClosed(connection, reason: reason)
        } else {
            established?.fail(failure ?? ClusterError.handshakeRefused(reason))
        }
        context.fireChannelInactive()
    }
}
