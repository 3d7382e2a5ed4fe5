import NIOCore
import NIOSSL
import NIOTLS
import X509

/// Exchanges node identities right after TLS and checks each against the peer's certificate.
///
/// The dialling side speaks first (`hello`), the listener answers (`welcome`). Until both are done
/// nothing else passes: any other envelope, a node name the certificate does not carry, or a
/// protocol version we do not speak closes the connection before a single call is decoded.
final class HandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = Envelope
    typealias InboundOut = Envelope
    typealias OutboundOut = Envelope

    enum Side {
        /// `expectedName` is nil when dialling a seed by address only (`--join HOST:PORT`).
        case dialer(expectedName: String?)
        case listener
    }

    private let side: Side
    /// The host this side dialled (dialers only), checked against the certificate's names.
    private let dialledHost: String?
    /// This node's hello; given the peer's when answering it.
    private let localHello: (Hello?) -> Hello
    /// Called once when the handshake ends, however it ends.
    private var settled: (() -> Void)?
    private let timeout: TimeAmount
    private var timeoutTask: Scheduled<Void>?
    private var done = false

    init(
        side: Side, timeout: TimeAmount, dialledHost: String? = nil, localHello: @escaping (Hello?) -> Hello,
        settled: @escaping () -> Void = {}
    ) {
        self.side = side
        self.dialledHost = dialledHost
        self.settled = settled
        self.timeout = timeout
        self.localHello = localHello
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timeoutTask = context.eventLoop.scheduleTask(in: timeout) {
            let (handler, context) = loopBound.value
            handler.refuse(context: context, reason: "no handshake within \(handler.timeout)")
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .dialer = side, let tlsEvent = event as? TLSUserEvent,
            case .handshakeCompleted = tlsEvent
        {
            context.writeAndFlush(wrapOutboundOut(.hello(localHello(nil))), promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else {
            context.fireChannelRead(data)
            return
        }
        let envelope = unwrapInboundIn(data)
        switch (side, envelope) {
        case (.listener, .hello(let hello)):
            guard let reason = problem(with: hello, context: context, expectedName: nil) else {
                context.writeAndFlush(wrapOutboundOut(.welcome(localHello(hello))), promise: nil)
                finish(context: context, peer: hello)
                return
            }
            refuse(context: context, reason: reason)
        case (.dialer(let expectedName), .welcome(let hello)):
            guard let reason = problem(with: hello, context: context, expectedName: expectedName) else {
                finish(context: context, peer: hello)
                return
            }
            refuse(context: context, reason: reason)
        default:
            refuse(context: context, reason: "unexpected message before the handshake")
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            refuse(context: context, reason: "\(error)")
        } else {
            context.fireErrorCaught(error)
        }
    }

    private func settle() {
        settled?()
        settled = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        settle()
        if !done {
            done = true
            timeoutTask?.cancel()
            context.fireErrorCaught(
                ClusterError.handshakeRefused("connection closed during the handshake"))
        }
        context.fireChannelInactive()
    }

    private func problem(with hello: Hello, context: ChannelHandlerContext, expectedName: String?)
        -> String?
    {
        guard hello.protocolVersion == Envelope.protocolVersion else {
            return
                "peer speaks protocol \(hello.protocolVersion), this node speaks \(Envelope.protocolVersion)"
        }
        guard let peerCertificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate(),
            let certificate = try? Certificate(derEncoded: peerCertificate.toDERBytes()),
            let certifiedName = certificate.nodeName
        else {
            return "peer presented no usable certificate"
        }
        guard certifiedName == hello.node.name else {
            return
                "peer claims to be node '\(hello.node.name)' but its certificate names '\(certifiedName)'"
        }
        guard let certifiedRole = certificate.nodeRole else {
            return
                "the certificate of node '\(certifiedName)' carries no role; re-issue it with `lector certs --node \(certifiedName)`"
        }
        guard certifiedRole == hello.role else {
            return "node '\(certifiedName)' claims the role \(hello.role) but its certificate grants \(certifiedRole)"
        }
        // A dialled node must be reachable where its certificate says: gossip cannot send this
        // node to an address no certificate names.
        if case .dialer = side, let address = dialledHost, !certificate.dialableHosts.contains(address) {
            return "node '\(certifiedName)' was dialled at \(address), which its certificate does not name"
        }
        if let expectedName, expectedName != hello.node.name {
            return "dialled node '\(expectedName)' but reached '\(hello.node.name)'"
        }
        return nil
    }

    private func finish(context: ChannelHandlerContext, peer: Hello) {
        done = true
        settle()
        timeoutTask?.cancel()
        // Announced before any later envelope is read, so the connection handler knows its peer first.
        context.fireUserInboundEventTriggered(PeerIdentified(hello: peer))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func refuse(context: ChannelHandlerContext, reason: String) {
        guard !done else { return }
        done = true
        settle()
        timeoutTask?.cancel()
        context.fireErrorCaught(ClusterError.handshakeRefused(reason))
        context.close(promise: nil)
    }
}

/// Fired down the pipeline once the peer's identity has been checked.
struct PeerIdentified {
    var hello: Hello
}
