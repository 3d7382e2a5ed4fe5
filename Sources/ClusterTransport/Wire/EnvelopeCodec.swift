import NIOCore

/// Turns frames into envelopes and back. A frame that does not decode closes the connection: a peer
/// that speaks garbage has nothing more to say.
final class EnvelopeCodec: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Envelope
    typealias OutboundIn = Envelope
    typealias OutboundOut = ByteBuffer

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        do {
            let envelope = try Envelope(decoding: &frame)
            context.fireChannelRead(wrapInboundOut(envelope))
        } catch {
            context.fireErrorCaught(error)
            context.close(promise: nil)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let envelope = unwrapOutboundIn(data)
        var buffer = context.channel.allocator.buffer(capacity: 64)
        envelope.encode(into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: promise)
    }
}
