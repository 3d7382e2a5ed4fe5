import NIOCore

/// Turns frames into envelopes and back. A frame that does not decode closes the connection: a peer
/// that speaks garbage has nothing more to say.
///
/// Outgoing envelopes are written straight into their frame (length prefix first, filled in after
/// encoding) in a buffer sized up front: a separate length encoder copied every payload once more,
/// and growing from a small buffer copied a 1 MB argument about twice.
final class EnvelopeCodec: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = Envelope
    typealias OutboundIn = Envelope
    typealias OutboundOut = ByteBuffer

    let maximumFrameSize: Int
    let traffic: TrafficCounters?

    init(maximumFrameSize: Int, traffic: TrafficCounters? = nil) {
        self.maximumFrameSize = maximumFrameSize
        self.traffic = traffic
    }

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
        var buffer = context.channel.allocator.buffer(capacity: 4 + envelope.encodedSizeHint)
        buffer.writeInteger(UInt32(0))
        envelope.encode(into: &buffer)
        let length = buffer.readableBytes - 4
        guard length <= maximumFrameSize else {
            promise?.fail(FrameError.frameTooLarge(size: length, limit: maximumFrameSize))
            return
        }
        buffer.setInteger(UInt32(length), at: buffer.readerIndex)
        traffic?.sent(bytes: buffer.readableBytes)
        context.write(wrapOutboundOut(buffer), promise: promise)
    }
}
