/// What a node tells its peers about itself: the actors it registered and the nodes it can reach.
///
/// Versioned, and sent only to a peer whose copy is older, so a steady cluster's heartbeats stay a
/// few bytes.
struct NodeState: Codable, Sendable, Equatable {
    struct KnownNode: Codable, Sendable, Equatable {
        var node: ClusterNode
        var role: String
    }

    var version: UInt64
    /// Receptionist key → actor paths on the sending node.
    var registrations: [String: [String]]
    var members: [KnownNode]
}
