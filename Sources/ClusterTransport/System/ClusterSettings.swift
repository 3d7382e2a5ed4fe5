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
    /// A free-form label others see in membership (`gateway`, `coordinator`, `worker`).
    public var role: String
    public var host: String
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
    public var connectTimeout: Duration = .seconds(2)
    public var handshakeTimeout: Duration = .seconds(5)
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
}
