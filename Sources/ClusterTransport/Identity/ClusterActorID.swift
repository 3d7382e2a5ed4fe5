/// The identity of a distributed actor: the node that hosts it and a path unique on that node.
///
/// Codable, so an identity (and with it an actor reference) can travel inside any message and be
/// resolved on another node.
public struct ClusterActorID: Hashable, Codable, Sendable, CustomStringConvertible {
    public var node: ClusterNode
    public var path: String

    public init(node: ClusterNode, path: String) {
        self.node = node
        self.path = path
    }

    public var description: String { "\(path)@\(node)" }
}
