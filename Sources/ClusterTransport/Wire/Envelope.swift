import NIOCore

/// Everything two nodes say to each other, one envelope per frame.
///
/// The envelope itself is a small binary layout (see `Envelope+Wire.swift`); only actor arguments,
/// return values and the occasional node state inside it are Codable payloads.
public enum Envelope: Equatable, Sendable {
    /// First message on a connection, from the side that dialled.
    case hello(Hello)
    /// The listener's answer to a valid `hello`.
    case welcome(Hello)
    case call(Call)
    case reply(Reply)
    case ping(Ping)
    case pong(Pong)
    /// The sender is shutting down on purpose: forget it now rather than after the failure timeout.
    /// Only ever about the sender itself; a node naming another is ignored.
    case leaving(ClusterNode)
    /// The caller gave up on a call (timeout, cancellation): the callee cancels its work.
    case cancel(UInt64)
    /// Failure detection and membership gossip (`ClusterSettings.membershipProtocol = .swim`).
    case swim(SWIMPacket)

    /// Bumped whenever the layout or the meaning of a message changes; peers must match.
    /// 2: roles in certificates, `cancel`, `forbidden` and `actorGone` failures. 3: `swim`.
    /// 4: SWIM's member-list `sync` and `syncReply`.
    public static let protocolVersion: UInt16 = 4
}

public struct Hello: Equatable, Sendable {
    public var protocolVersion: UInt16
    public var node: ClusterNode
    public var role: String
    /// The sender's `NodeState`, JSON encoded.
    public var state: ByteBuffer

    public init(
        protocolVersion: UInt16 = Envelope.protocolVersion, node: ClusterNode, role: String,
        state: ByteBuffer
    ) {
        self.protocolVersion = protocolVersion
        self.node = node
        self.role = role
        self.state = state
    }
}

public struct Call: Equatable, Sendable {
    public var id: UInt64
    public var recipientPath: String
    public var recipientIncarnation: UInt64
    /// The mangled name of the distributed method.
    public var target: String
    public var genericSubstitutions: [String]
    public var arguments: [ByteBuffer]

    public init(
        id: UInt64, recipientPath: String, recipientIncarnation: UInt64, target: String,
        genericSubstitutions: [String], arguments: [ByteBuffer]
    ) {
        self.id = id
        self.recipientPath = recipientPath
        self.recipientIncarnation = recipientIncarnation
        self.target = target
        self.genericSubstitutions = genericSubstitutions
        self.arguments = arguments
    }
}

public struct Reply: Equatable, Sendable {
    public enum Outcome: Equatable, Sendable {
        case value(ByteBuffer)
        case void
        case failure(RemoteFailure)
    }

    public var callID: UInt64
    public var outcome: Outcome

    public init(callID: UInt64, outcome: Outcome) {
        self.callID = callID
        self.outcome = outcome
    }
}

/// An error as it crosses the wire: enough to rebuild a registered Codable error, and a readable
/// message for any other.
public struct RemoteFailure: Equatable, Sendable {
    public enum Kind: UInt8, Sendable {
        /// The remote method threw.
        case thrown = 1
        /// No actor with that identity lives on the node.
        case unknownActor = 2
        /// The call could not be decoded or dispatched.
        case invalidCall = 3
        /// The caller's role may not call this method (see `CallerRoles`).
        case forbidden = 4
        /// The actor belonged to an earlier incarnation of the node, which has restarted.
        case actorGone = 5
        /// The callee has too many calls from this connection in hand.
        case overloaded = 6
    }

    public var kind: Kind
    public var typeName: String
    public var message: String
    /// The error itself, JSON encoded, when its type is Codable.
    public var payload: ByteBuffer?

    public init(kind: Kind, typeName: String, message: String, payload: ByteBuffer? = nil) {
        self.kind = kind
        self.typeName = typeName
        self.message = message
        self.payload = payload
    }
}

public struct Ping: Equatable, Sendable {
    public var sequence: UInt64
    /// The version of the receiver's node state the sender already holds.
    public var knownStateVersion: UInt64

    public init(sequence: UInt64, knownStateVersion: UInt64) {
        self.sequence = sequence
        self.knownStateVersion = knownStateVersion
    }
}

public struct Pong: Equatable, Sendable {
    public var sequence: UInt64
    public var stateVersion: UInt64
    /// The responder's `NodeState` (JSON) when the pinger's copy is out of date.
    public var state: ByteBuffer?

    public init(sequence: UInt64, stateVersion: UInt64, state: ByteBuffer?) {
        self.sequence = sequence
        self.stateVersion = stateVersion
        self.state = state
    }
}
