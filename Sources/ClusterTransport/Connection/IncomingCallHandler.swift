import NIOCore

/// Runs the calls a peer makes on this node, each in a task of its own, and writes their replies.
///
/// Bounded per connection: at `maxIncomingCalls` running the connection is not read any more
/// (backpressure) until half of them are done, and a call that still arrives is refused as
/// `overloaded`. A `cancel` from the caller cancels the call's task, and so do a closed connection
/// and shutdown. Every call is counted with the system from its arrival until its reply is on the
/// wire, so a draining node waits for it.
final class IncomingCallHandler: ChannelInboundHandler {
    typealias InboundIn = Envelope
    typealias InboundOut = Envelope
    typealias OutboundOut = Envelope

    private let delegate: any ConnectionDelegate
    /// The peer's certified role, known once it is identified.
    private var peerRole: String?
    private var running: [UInt64: Task<Void, Never>] = [:]
    private var readingPaused = false
    private var context: ChannelHandlerContext?

    init(delegate: any ConnectionDelegate) {
        self.delegate = delegate
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let identified = event as? PeerIdentified { peerRole = identified.hello.role }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .call(let call):
            guard let role = peerRole else {
                context.close(promise: nil)
                return
            }
            run(call, callerRole: role, context: context)
        case .cancel(let id):
            running[id]?.cancel()
        default:
            context.fireChannelRead(data)
        }
    }

    private func run(_ call: Call, callerRole: String, context: ChannelHandlerContext) {
        let channel = context.channel
        guard running.count < delegate.maxIncomingCalls, running[call.id] == nil else {
            let failure = RemoteFailure(
                kind: .overloaded, typeName: "", message: "\(running.count) calls from this node are already running")
            context.writeAndFlush(
                wrapOutboundOut(.reply(Reply(callID: call.id, outcome: .failure(failure)))), promise: nil)
            return
        }
        let delegate = self.delegate
        let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
        delegate.incomingCallStarted()
        running[call.id] = Task {
            let outcome = await delegate.execute(call, callerRole: callerRole)
            // One hop to the event loop per call: the reply is written and its completion hooked
            // there (hooking it from this task would cost a second cross-thread hop per call).
            channel.eventLoop.execute {
                loopBound.value.reply(call.id, outcome: outcome, channel: channel)
            }
        }
        if running.count >= delegate.maxIncomingCalls, !readingPaused {
            readingPaused = true
            channel.setOption(ChannelOptions.autoRead, value: false).whenFailure { _ in }
        }
    }

    /// On the event loop: writes a call's reply; the call counts as running until it is written.
    private func reply(_ id: UInt64, outcome: Reply.Outcome, channel: any Channel) {
        let delegate = self.delegate
        channel.writeAndFlush(Envelope.reply(Reply(callID: id, outcome: outcome))).whenComplete { _ in
            delegate.incomingCallEnded()
        }
        finished(id)
    }

    private func finished(_ id: UInt64) {
        running[id] = nil
        if readingPaused, running.count < delegate.maxIncomingCalls / 2 + 1, let context {
            readingPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenFailure { _ in }
            context.read()
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Nobody will read their replies: their work stops.
        for task in running.values { task.cancel() }
        context.fireChannelInactive()
    }
}
