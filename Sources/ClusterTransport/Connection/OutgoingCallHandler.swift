import NIOCore

/// Request/response correlation for the calls this node makes over one connection, with a timeout
/// each (in the manner of swift-nio-extras' `NIORequestResponseWithIDHandler`).
///
/// Pending calls live here, on the channel's event loop, so that the moment the connection goes
/// away every one of them fails with the reason, and a late reply can never find a caller that
/// already gave up. A caller that gives up (timeout, cancellation) tells the callee with `cancel`.
final class OutgoingCallHandler: ChannelDuplexHandler {
    typealias InboundIn = Envelope
    typealias InboundOut = Envelope
    typealias OutboundIn = Envelope
    typealias OutboundOut = Envelope

    private struct Pending {
        var promise: EventLoopPromise<Reply.Outcome>
        var timeout: Scheduled<Void>?
    }

    private var pending: [UInt64: Pending] = [:]
    private var context: ChannelHandlerContext?
    private var peerName = "unidentified peer"
    private var closeReason: String?

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let identified = event as? PeerIdentified { peerName = identified.hello.node.name }
        context.fireUserInboundEventTriggered(event)
    }

    /// Sends a call and arranges for exactly one outcome: the reply, the timeout, or the loss.
    func send(_ call: Call, timeout: TimeAmount, promise: EventLoopPromise<Reply.Outcome>) {
        guard let context, closeReason == nil else {
            promise.fail(ClusterError.connectionLost(node: peerName, reason: closeReason ?? "connection closed"))
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
                    ClusterError.timedOut(target: target, node: peerName, after: .nanoseconds(timeout.nanoseconds))))
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
        guard case .reply(let reply) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        complete(reply.callID, with: .success(reply.outcome))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if closeReason == nil { closeReason = "\(error)" }
        context.fireErrorCaught(error)
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
        context.fireChannelInactive()
    }
}
