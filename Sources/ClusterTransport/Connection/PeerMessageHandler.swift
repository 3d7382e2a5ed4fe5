import NIOCore

/// The connection as membership sees it: it turns the identified peer into a `PeerConnection`
/// (handed to whoever dialled, or to the system for an inbound one), answers pings, passes pongs
/// and goodbyes on, and reports the connection's end. Last in the pipeline: calls and replies were
/// taken before it.
final class PeerMessageHandler: ChannelInboundHandler {
    typealias InboundIn = Envelope
    typealias OutboundOut = Envelope

    private let delegate: any ConnectionDelegate
    private let direction: PeerConnection.Direction
    /// Completed for connections this node dialled, once the peer is identified (or the dial failed).
    private let established: EventLoopPromise<(PeerConnection, Hello)>?
    private let calls: OutgoingCallHandler
    private var connection: PeerConnection?
    private var closeReason: String?
    private var failure: (any Error)?

    init(
        direction: PeerConnection.Direction, delegate: any ConnectionDelegate, calls: OutgoingCallHandler,
        established: EventLoopPromise<(PeerConnection, Hello)>?
    ) {
        self.direction = direction
        self.delegate = delegate
        self.calls = calls
        self.established = established
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let identified = event as? PeerIdentified else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let connection = PeerConnection(
            channel: context.channel, peer: identified.hello.node, peerRole: identified.hello.role,
            direction: direction, calls: NIOLoopBound(calls, eventLoop: context.eventLoop))
        self.connection = connection
        if let established {
            established.succeed((connection, identified.hello))
        } else {
            delegate.accepted(connection, hello: identified.hello)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let connection else {
            context.close(promise: nil)
            return
        }
        connection.heardNow()
        switch unwrapInboundIn(data) {
        case .ping(let ping):
            context.writeAndFlush(
                wrapOutboundOut(.pong(delegate.pong(answering: ping, from: connection.peer))), promise: nil)
        case .pong(let pong):
            delegate.received(pong, from: connection)
        case .swim(let packet):
            delegate.received(swim: packet, from: connection)
        case .leaving(let node):
            // Only its own leaving counts (the membership machine ignores any other).
            delegate.peerIsLeaving(node, announcedBy: connection.peer)
        case .hello, .welcome:
            closeReason = "peer repeated its handshake"
            context.close(promise: nil)
        case .call, .reply, .cancel:
            break  // taken by the call handlers before this one
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
        if let connection {
            delegate.connectionClosed(connection, reason: reason)
        } else {
            established?.fail(failure ?? ClusterError.handshakeRefused(reason))
        }
        context.fireChannelInactive()
    }
}
