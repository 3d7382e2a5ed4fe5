import NIOCore

/// Splits the byte stream into frames: a 4-byte big-endian length, then that many bytes
/// (`EnvelopeCodec` writes them).
///
/// A length above `maximumFrameSize` is an error before any of the payload is buffered, so a peer
/// cannot make the node allocate what it announces.
public struct FrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = ByteBuffer

    public let maximumFrameSize: Int

    public init(maximumFrameSize: Int) {
        self.maximumFrameSize = maximumFrameSize
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws
        -> DecodingState
    {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else {
            return .needMoreData
        }
        guard Int(length) <= maximumFrameSize else {
            throw FrameError.frameTooLarge(size: Int(length), limit: maximumFrameSize)
        }
        guard buffer.readableBytes >= 4 + Int(length) else {
            // Room for the whole frame at once rather than doubling towards it as its pieces
            // arrive; frames already read are dropped first, so growing copies only this one.
            let missing = 4 + Int(length) - buffer.readableBytes
            if buffer.writableBytes < missing {
                buffer.discardReadBytes()
                buffer.reserveCapacity(minimumWritableBytes: missing)
            }
            return .needMoreData
        }
        buffer.moveReaderIndex(forwardBy: 4)
        let frame = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(Self.wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        if buffer.readableBytes > 0 {
            throw FrameError.truncatedFrame(bufferedBytes: buffer.readableBytes)
        }
        return .needMoreData
    }
}

public enum FrameError: Error, Equatable, CustomStringConvertible {
    case frameTooLarge(size: Int, limit: Int)
    case truncatedFrame(bufferedBytes: Int)

    public var description: String {
        switch self {
        case .frameTooLarge(let size, let limit):
            "frame of \(size) bytes exceeds the limit of \(limit) bytes"
        case .truncatedFrame(let bytes):
            "connection closed in the middle of a frame (\(bytes) bytes buffered)"
        }
    }
}
