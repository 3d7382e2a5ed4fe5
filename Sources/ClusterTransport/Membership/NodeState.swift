/// What a node tells its peers about itself: the actors it registered and the nodes it can reach.
///
/// Versioned, and sent only to a peer whose copy is older, so a steady cluster's heartbeats stay a
/// few bytes.
struct NodeState: Codable, Sendable, Equatable {
    struct KnownNode: Codable, Sendable, Equatable {
        var node: ClusterNode
        var role: String
        /// Its SWIM incarnation, node state version and registration keys, when the cluster
        /// runs SWIM (see `SWIMPacket.Gossip`).
        var swimIncarnation: UInt64? = nil
        var stateVersion: UInt64? = nil
        var keys: [String]? = nil
    }

    var version: UInt64
    /// Receptionist key → actor paths on the sending node.
    var registrations: [String: [String]]
    /// Full mesh: the nodes it reaches. SWIM: every live member it knows, so a node that joins
    /// through it starts with the whole list.
    var members: [KnownNode]
    /// The sender's own SWIM incarnation, when the cluster runs SWIM.
    var swimIncarnation: UInt64? = nil
    /// SWIM: the sender knows no live member yet, and asks for the member list.
    var joining: Bool? = nil
}
