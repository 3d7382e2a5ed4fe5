import NIOCore
import NIOPosix
import NIOSSL
import Synchronization

@testable import ClusterTransport

/// A client that speaks raw bytes at a node, with or without TLS: the tests' stand-in for an
/// attacker or a broken peer.
final class RawClient: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    private let received = Mutex<Int>(0)
    let channel: any Channel

    var bytesReceived: Int { received.withLock { $0 } }
    var isOpen: Bool { channel.isActive }

    private init(channel: any Channel) {
        self.channel = channel
    }

    static func connect(port: Int, tls: ClusterTLS?) async throws -> RawClient {
        let box = Mutex<RawClient?>(nil)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tls.makeClientHandler()) }
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        let client = RawClient(channel: channel)
        box.withLock { $0 = client }
        try await channel.pipeline.addHandler(client).get()
        return client
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let count = unwrapInboundIn(data).readableBytes
        received.withLock { $0 += count }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func send(frame payload: ByteBuffer) async throws {
        var buffer = ByteBuffer()
        buffer.writeInteger(UInt32(payload.readableBytes))
        buffer.writeImmutableBuffer(payload)
        try await send(raw: buffer)
    }

    func send(raw: ByteBuffer) async throws {
        try await channel.writeAndFlush(raw).get()
    }

    func send(_ envelope: Envelope) async throws {
        var buffer = ByteBuffer()
        envelope.encode(into: &buffer)
        try await send(frame: buffer)
    }

    /// Waits until the node closes the connection; false if it is still open at the deadline.
    func closedWithin(_ timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while channel.isActive, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return !channel.isActive
    }
}
