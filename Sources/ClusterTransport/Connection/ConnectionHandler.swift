import NIOCore

/// What a connection needs from the system once the peer is known.
protocol ConnectionDelegate: AnyObject, Sendable {
    /// A connection someone else dialled has passed its handshake.
    func accepted(_ connection: PeerConnection, hello: Hello)
    /// Runs an incoming call and returns its outcome.
    func execute(_ call: Call) async -> Reply.Outcome
    /// Brackets an incoming call from its arrival until its reply is written, so shutdown can wait.
    func incomingCallStarted()
    func incomingCallEnded()
    func pong(answering ping: Ping, from peer: ClusterNode) -> Pong
    func received(_ pong: Pong, from connection: PeerConnection)
    func peerIsLeaving(_ node: ClusterNode)
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
            loopBound.value.complete(
                id,
                with: .failure(
                    ClusterError.timedOut(
                        target: target, node: peerName, after: .nanoseconds(timeout.nanoseconds))))
        }
        pending[id] = Pending(promise: promise, timeout: timeoutTask)
        context.writeAndFlush(wrapOutboundOut(.call(call))).whenFailure { error in
            loopBound.value.complete(
                id, with: .failure(ClusterError.connectionLost(node: peerName, reason: "\(error)")))
        }
    }

    /// Gives up on a call (its task was cancelled); a reply arriving later is dropped.
    func cancel(_ id: UInt64) {
        complete(id, with: .failure(CancellationError()))
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
        switch unwrapInboundIn(data) {
        case .call(let call):
            let channel = context.channel
            let delegate = self.delegate
            Task {
                let outcome = await delegate.execute(call)
                channel.writeAndFlush(
                    Envelope.reply(Reply(callID: call.id, outcome: outcome)), promise: nil)
            }
        case .reply(let reply):
            complete(reply.callID, with: .success(reply.outcome))
        case .ping(let ping):
            context.writeAndFlush(
                wrapOutboundOut(.pong(delegate.pong(answering: ping, from: connection.peer))), promise: nil)
        case .pong(let pong):
            delegate.received(pong, from: connection)
        case .leaving(let node):
            delegate.peerIsLeaving(node)
        case .hello, .welcome:
            closeReason = "peer repeated its handshake"
            context.close(promise: nil)
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
