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
    /// When this node last sent a call or a SWIM message on it, likewise.
    private let lastUsed = Atomic<Int64>(0)
    /// When this node last sent a call on it, likewise; `neverCalled` until the first.
    private let lastCall = Atomic<Int64>(PeerConnection.neverCalled)
    private static let neverCalled = Int64.min
    /// Calls sent on it and not yet answered.
    private let callsInFlight = Atomic<Int>(0)
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
        let sent = elapsed
        lastUsed.store(sent, ordering: .relaxed)
        lastCall.store(sent, ordering: .relaxed)
        callsInFlight.add(1, ordering: .relaxed)
        defer { callsInFlight.subtract(1, ordering: .relaxed) }
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

    /// Nanoseconds since `created`.
    private var elapsed: Int64 {
        let elapsed = ContinuousClock.now - created
        return elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
    }

    private func since(_ mark: borrowing Atomic<Int64>) -> Duration {
        ContinuousClock.now - (created + .nanoseconds(mark.load(ordering: .relaxed)))
    }

    func heardNow() {
        lastHeard.store(elapsed, ordering: .relaxed)
    }

    /// How long the peer has been silent.
    var silence: Duration { since(lastHeard) }

    /// How long since this node last used it (a call or a SWIM message).
    var unused: Duration { since(lastUsed) }

    /// Whether calls are waiting on it, or one was sent within `window`: then it is kept alive.
    func carriesCalls(within window: Duration) -> Bool {
        if callsInFlight.load(ordering: .relaxed) > 0 { return true }
        return lastCall.load(ordering: .relaxed) != Self.neverCalled && since(lastCall) < window
    }

    /// Sends a SWIM message (counts as use: an idle connection is one nobody sends on).
    func send(swim packet: SWIMPacket) {
        lastUsed.store(elapsed, ordering: .relaxed)
        channel.writeAndFlush(Envelope.swim(packet), promise: nil)
    }

    func send(_ envelope: Envelope) {
        channel.writeAndFlush(envelope, promise: nil)
    }

    func close() {
        channel.close(promise: nil)
    }
}
