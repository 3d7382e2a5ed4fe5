/// Failures of the transport itself, as a caller sees them.
public enum ClusterError: Error, Equatable, CustomStringConvertible {
    case unknownActor(String)
    case invalidCall(String)
    case serialization(String)
    case timedOut(target: String, node: String, after: Duration)
    case connectionLost(node: String, reason: String)
    case unreachable(node: String, reason: String)
    case handshakeRefused(String)
    case shutDown
    /// The caller's certified role may not make this call.
    case forbidden(String)
    /// The target actor lived in an earlier incarnation of its node.
    case actorGone(String)
    /// The callee refused the call for now (too many in hand from this connection).
    case overloaded(String)

    public var description: String {
        switch self {
        case .unknownActor(let message): message
        case .invalidCall(let message): "invalid call: \(message)"
        case .serialization(let message): "serialization failed: \(message)"
        case .timedOut(let target, let node, let after):
            "call \(target) to node \(node) timed out after \(after)"
        case .connectionLost(let node, let reason): "connection to node \(node) lost: \(reason)"
        case .unreachable(let node, let reason): "node \(node) is unreachable: \(reason)"
        case .handshakeRefused(let reason): "handshake refused: \(reason)"
        case .shutDown: "the actor system has shut down"
        case .forbidden(let message): "forbidden: \(message)"
        case .actorGone(let message): "actor gone: \(message)"
        case .overloaded(let message): "overloaded: \(message)"
        }
    }
}

/// An error thrown by a remote actor whose type the caller has not registered: its type name and
/// message, so it still reads clearly in a log or an HTTP answer.
public struct RemoteCallError: Error, Equatable, CustomStringConvertible {
    public var typeName: String
    public var message: String
    public var node: String

    public var description: String { "\(typeName) on node \(node): \(message)" }
}
