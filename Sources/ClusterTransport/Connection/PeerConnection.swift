import NIOCore
import Synchronization

/// One authenticated connection to a peer node, usable from any task.
final class PeerConnection: Sendable {
    enum Direction: Sendable { case outbound, inbound }

    let channel: any Channel
    let peer: ClusterNode
    let peerRole: String
    let direction: Direction
    private let handler: NIOLoopBound<ConnectionHandler>
    private let nextCallID = Atomic<UInt64>(1)

    init(
        channel: any Channel, peer: ClusterNode, peerRole: String, direction: Direction,
        handler: NIOLoopBound<ConnectionHandler>
    ) {
        self.channel = channel
        self.peer = peer
        self.peerRole = peerRole
        self.direction = direction
        self.handler = handler
    }

    /// Sends a call and waits for its outcome; cancelling the task abandons the call.
    func call(
        recipientPath: String, target: String, genericSubstitutions: [String], arguments: [ByteBuffer],
        timeout: Duration
    ) async throws -> Reply.Outcome {
        let id = nextCallID.add(1, ordering: .relaxed).oldValue
        let call = Call(
            id: id, recipientPath: recipientPath, recipientIncarnation: peer.incarnation, target: target,
            genericSubstitutions: genericSubstitutions, arguments: arguments)
        let loop = channel.eventLoop
        let promise = loop.makePromise(of: Reply.Outcome.self)
        let handler = self.handler
        let amount = TimeAmount(timeout)
        loop.execute { handler.value.send(call, timeout: amount, promise: promise) }
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            loop.execute { handler.value.cancel(id) }
        }
    }

    func send(_ envelope: Envelope) {
        channel.writeAndFlush(envelope, promise: nil)
    }

    func close() {
        channel.close(promise: nil)
    }
}
