/// How a node joins and behaves in the cluster. Defaults suit a cluster on one machine or a LAN.
public struct ClusterSettings: Sendable {
    /// A node to dial at start. A seed without a name is reached by address (`--join HOST:PORT`) and
    /// accepted under whatever name its certificate proves.
    public struct Seed: Sendable, Hashable {
        public var name: String?
        public var host: String
        public var port: Int

        public init(name: String? = nil, host: String, port: Int) {
            self.name = name
            self.host = host
            self.port = port
        }
    }

    public var name: String
    /// What this node may do (`gateway`, `coordinator`, `worker`); its certificate must grant it,
    /// and peers authorise its calls and registrations by it.
    public var role: String
    /// The address to listen on.
    public var host: String
    /// The host others dial this node at, when `host` is `0.0.0.0`; the certificate must name it.
    public var advertisedHost: String?
    /// 0 picks a free port.
    public var port: Int
    public var credentials: ClusterCredentials
    public var seeds: [Seed]

    /// How nodes watch each other. `fullMesh`: every node holds a connection to every other and
    /// heartbeats it (fine for tens of nodes). `swim`: each node probes one member a period and
    /// gossips what it learns, so its load stays flat as the cluster grows, and keeps connections
    /// only to the members it talks to.
    public enum MembershipProtocol: String, Sendable, CaseIterable {
        case fullMesh = "full-mesh"
        case swim
    }

    public var membershipProtocol: MembershipProtocol = .fullMesh
    /// SWIM: one member probed per period (its ack awaited half of it before others are asked).
    public var probeInterval: Duration = .milliseconds(200)
    /// SWIM: a dialled connection nothing was sent on for this long is closed (calls in flight
    /// keep it, and their connection is heartbeated meanwhile).
    public var idleConnectionTimeout: Duration = .seconds(10)
    /// SWIM: hash rings whose successors a node probes (0: every member in turn, a connection to
    /// each in turn); see `SWIMDetector.Settings.probeRings`.
    public var probeRings = 4
    public static let maximumProbeRings = 16

    public var heartbeatInterval: Duration = .milliseconds(500)
    /// Silence after which a peer is `down`: its actors leave the receptionist's listings.
    public var failureTimeout: Duration = .seconds(5)
    /// Silence after which a peer is `suspect`; defaults to a third of the failure timeout.
    public var suspectTimeout: Duration?
    /// Used for a call unless `ClusterSystem.$callTimeout` says otherwise.
    public var callTimeout: Duration = .seconds(10)
    /// How long shutdown waits for incoming calls to be answered (a worker: its job lease);
    /// defaults to `callTimeout`.
    public var drainTimeout: Duration?
    public var connectTimeout: Duration = .seconds(2)
    public var handshakeTimeout: Duration = .seconds(5)
    /// Inbound connections that have not finished their handshake; more are closed at once.
    public var maxUnauthenticatedConnections = 64
    /// Calls one connection may have running here at once; past it the node stops reading that
    /// connection until some finish (backpressure), so a peer cannot spawn unbounded work.
    public var maxIncomingCallsPerConnection = 256
    /// Receptionist keys and the roles that may register under them; a key not listed is open to
    /// every role. A peer's registration under a key its role may not hold is ignored (and logged).
    public var registrationRoles: [String: Set<String>] = [:]
    public var maximumFrameSize: Int = 16 << 20
    public var maximumReconnectBackoff: Duration = .seconds(2)
    /// Checked at start: a node whose certificate names another node is refused by every peer anyway.
    var requireCertificateMatchesName = true

    public init(
        name: String, role: String, host: String, port: Int, credentials: ClusterCredentials,
        seeds: [Seed] = []
    ) {
        self.name = name
        self.role = role
        self.host = host
        self.port = port
        self.credentials = credentials
        self.seeds = seeds
    }

    var effectiveSuspectTimeout: Duration { suspectTimeout ?? failureTimeout / 3 }

    /// SWIM's timings from this node's: a dead member is `down` everywhere within about the
    /// failure timeout (a period or two to be probed and found silent, a few for the suspicion to
    /// spread, then the suspicion timeout), and a member paused for less is suspected, not downed.
    var swim: SWIMDetector<SystemRandomNumberGenerator>.Settings {
        var swim = SWIMDetector<SystemRandomNumberGenerator>.Settings()
        swim.probeInterval = probeInterval
        swim.probeTimeout = probeInterval / 2
        swim.probeRings = min(max(probeRings, 0), Self.maximumProbeRings)
        swim.suspicionTimeout = max(failureTimeout * 3 / 5, probeInterval * 3)
        return swim
    }
    /// An inbound connection silent this long (its dialler pings every heartbeat) is closed.
    var inboundIdleTimeout: Duration { max(heartbeatInterval * 6, failureTimeout) }
    /// The host peers dial.
    var dialHost: String { advertisedHost ?? host }
}
