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
    /// An inbound connection silent this long (its dialler pings every heartbeat) is closed.
    var inboundIdleTimeout: Duration { max(heartbeatInterval * 6, failureTimeout) }
    /// The host peers dial.
    var dialHost: String { advertisedHost ?? host }
}
