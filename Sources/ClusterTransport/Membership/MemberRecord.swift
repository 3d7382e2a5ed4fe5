import Foundation

/// What this node knows of one other node. Generic over the connection, so the membership state
/// machine that owns these is tested with plain objects instead of sockets.
struct MemberRecord<Connection: AnyObject> {
    enum Link {
        case idle
        /// A dial is under way (its future lives with the system, which does the I/O).
        case connecting
        case connected(Connection)
    }

    var name: String
    var role: String
    var host: String
    var port: Int
    var incarnation: UInt64?
    /// Listed in the configuration: dialled forever, never forgotten.
    var isSeed: Bool
    var status: MemberStatus = .suspect
    var statusSince: ContinuousClock.Instant
    var lastHeartbeat: ContinuousClock.Instant?
    var lastHeartbeatDate: Date?
    var firstSeen: ContinuousClock.Instant
    var link: Link = .idle
    var retryAt: ContinuousClock.Instant
    var backoff: Duration
    var lastError: String?
    var stateVersion: UInt64 = 0
    var registrations: [String: [String]] = [:]
    var pingSequence: UInt64 = 0
    /// Receptionist keys this peer tried to register under and may not (logged once each).
    var refusedKeys: Set<String> = []

    init(
        name: String, role: String, host: String, port: Int, incarnation: UInt64?, isSeed: Bool,
        now: ContinuousClock.Instant, backoff: Duration
    ) {
        self.name = name
        self.role = role
        self.host = host
        self.port = port
        self.incarnation = incarnation
        self.isSeed = isSeed
        self.statusSince = now
        self.firstSeen = now
        self.retryAt = now
        self.backoff = backoff
    }

    var connection: Connection? {
        if case .connected(let connection) = link { return connection }
        return nil
    }

    var isConnecting: Bool {
        if case .connecting = link { return true }
        return false
    }

    var publicView: Member {
        Member(
            name: name, role: role, host: host, port: port, incarnation: incarnation, status: status,
            lastHeartbeat: lastHeartbeatDate, isLocal: false)
    }
}
