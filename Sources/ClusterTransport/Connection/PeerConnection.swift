import NIOCore
import Synchronization

/// One authenticated connection to a peer node, usable from any task.
final class PeerConnection: Sendable {
    enum Direction: Sendable { case outbound, inbound }

    let channel: any Channel
    let peer: ClusterNode
    let peerRole: String
    let direction: Direction
    private let calls: NIOLoopBound<OutgoingCallHandler>
    private let nextCallID = Atomic<UInt64>(1)
    /// When the peer last sent anything, in nanoseconds of `ContinuousClock` since `created`.
    private let lastHeard = Atomic<Int64>(0)
    private let created = ContinuousClock.now

    init(
        channel: any Channel, peer: ClusterNode, peerRole: String, direction: Direction,
        calls: NIOLoopBound<OutgoingCallHandler>
    ) {
        self.channel = channel
        self.peer = peer
        self.peerRole = peerRole
        self.direction = direction
        self.calls = calls
    }

    /// Sends a call and waits for its outcome; cancelling the task abandons the call.
    func call(
        recipientPath: String, recipientIncarnation: UInt64, target: String, genericSubstitutions: [String],
        arguments: [ByteBuffer], timeout: Duration
    ) async throws -> Reply.Outcome {
        let id = nextCallID.add(1, ordering: .relaxed).oldValue
        let call = Call(
            id: id, recipientPath: recipientPath, recipientIncarnation: recipientIncarnation, target: target,
            genericSubstitutions: genericSubstitutions, arguments: arguments)
        let loop = channel.eventLoop
        let promise = loop.makePromise(of: Reply.Outcome.self)
        let calls = self.calls
        let amount = TimeAmount(timeout)
        loop.execute { calls.value.send(call, timeout: amount, promise: promise) }
        return try await withTaskCancellationHandler {
            try await promise.futureResult.get()
        } onCancel: {
            loop.execute { calls.value.cancel(id) }
        }
    }

    func heardNow() {
        let elapsed = ContinuousClock.now - created
        lastHeard.store(
            elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000,
            ordering: .relaxed)
    }

    /// How long the peer has been silent.
    var silence: Duration {
        let heard = created + .nanoseconds(lastHeard.load(ordering: .relaxed))
        return ContinuousClock.now - heard
    }

    func send(_ envelope: Envelope) {
        channel.writeAndFlush(envelope, promise: nil)
    }

    func close() {
        channel.close(promise: nil)
    }
}
