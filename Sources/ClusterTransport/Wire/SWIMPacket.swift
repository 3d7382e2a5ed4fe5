/// A SWIM message as it crosses the wire: the detector's message, with each member it names given
/// the address and role a receiver needs to reach it.
///
/// What it says of third parties is gossip, not proof: a node dialled at a gossiped address must
/// still show a certificate for that name, role and address before anything else is believed.
public struct SWIMPacket: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        case ping = 1
        case ack = 2
        /// "Probe `target` for me."
        case pingRequest = 3
        /// Anti-entropy: the sender's whole member list, and a request for the receiver's.
        case sync = 4
        /// The answer to a `sync`: the receiver's whole member list.
        case syncReply = 5

        /// Whether it carries a whole member list rather than a few changes.
        public var isSync: Bool { self == .sync || self == .syncReply }
    }

    /// One member's state as gossip carries it.
    public struct Gossip: Equatable, Sendable {
        /// The process, as its own handshake names it (its `incarnation` is the process's).
        public var node: ClusterNode
        public var role: String
        /// SWIM's incarnation, raised by the member to refute a suspicion.
        public var incarnation: UInt64
        /// 0 alive, 1 suspect, 2 down (the detector's `Status`).
        public var status: UInt8
        /// The version of the member's node state (its receptionist registrations), and the keys
        /// it holds registrations under: a node interested in one of them pulls the registrations
        /// from the member itself, over the member's own certified connection.
        public var stateVersion: UInt64
        public var keys: [String]

        public init(
            node: ClusterNode, role: String, incarnation: UInt64, status: UInt8, stateVersion: UInt64 = 0,
            keys: [String] = []
        ) {
            self.node = node
            self.role = role
            self.incarnation = incarnation
            self.status = status
            self.stateVersion = stateVersion
            self.keys = keys
        }
    }

    /// Gossip entries one packet may carry; a packet with more is malformed.
    public static let maximumGossip = 64
    /// Entries a `sync` or `syncReply` may carry: the most members a node keeps, and itself.
    public static let maximumSyncEntries = 4097

    /// The bound on entries for a packet of `kind`.
    public static func maximumEntries(_ kind: Kind) -> Int { kind.isSync ? maximumSyncEntries : maximumGossip }
    /// Receptionist keys one entry may name, and their length in bytes.
    public static let maximumKeys = 16
    public static let maximumKeyLength = 128

    public var kind: Kind
    public var sequence: UInt64
    /// The member to probe (`pingRequest` only; empty otherwise).
    public var target: String
    public var gossip: [Gossip]

    public init(kind: Kind, sequence: UInt64, target: String = "", gossip: [Gossip]) {
        self.kind = kind
        self.sequence = sequence
        self.target = target
        self.gossip = gossip
    }
}
