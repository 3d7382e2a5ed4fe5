import Synchronization

/// What this node has put on the wire and holds open: the per-node load a membership protocol must
/// keep flat as the cluster grows, read by the membership benchmark.
public struct Traffic: Sendable, Equatable {
    /// Frames written to peers since start, every kind (calls, replies, heartbeats, gossip).
    public var framesSent: Int
    /// Their bytes, length prefixes included (before TLS).
    public var bytesSent: Int
    /// Connections open now, dialled or accepted.
    public var openConnections: Int
}

/// Counters every connection's codec adds to, without a lock.
final class TrafficCounters: Sendable {
    private let frames = Atomic<Int>(0)
    private let bytes = Atomic<Int>(0)

    func sent(bytes count: Int) {
        frames.wrappingAdd(1, ordering: .relaxed)
        bytes.wrappingAdd(count, ordering: .relaxed)
    }

    var framesSent: Int { frames.load(ordering: .relaxed) }
    var bytesSent: Int { bytes.load(ordering: .relaxed) }
}
