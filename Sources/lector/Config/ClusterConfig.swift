import ClusterTransport
import Coordinator
import Foundation

/// `cluster.yaml`, typed. Paths in it are relative to the file's folder.
struct ClusterConfig: Sendable, Equatable {
    enum Role: String, Sendable, CaseIterable {
        case gateway, coordinator, worker
    }

    struct HostPort: Sendable, Equatable, CustomStringConvertible {
        var host: String
        var port: Int
        var description: String { "\(host):\(port)" }
    }

    struct TLS: Sendable, Equatable {
        /// The cluster CA's certificate, trusted by every node.
        var ca: String
        /// The CA's key: only `lector certs` needs it; keep it off worker machines.
        var caKey: String
        /// Where node certificates live: `<dir>/<node>.pem` and `<dir>/<node>-key.pem`.
        var dir: String
    }

    struct Timings: Sendable, Equatable {
        var heartbeatInterval: Duration = .milliseconds(500)
        var failureTimeout: Duration = .seconds(5)
        var callTimeout: Duration = .seconds(10)
        var jobLease: Duration = .seconds(120)
        var maxAttempts: Int = 3
        /// How long the active coordinator's lease lasts unrenewed (PostgreSQL store): a standby
        /// takes over this long after the active one stops renewing. Nil: `failureTimeout`.
        var coordinatorLease: Duration?
        var leaseDuration: Duration { coordinatorLease ?? failureTimeout }
    }

    struct Node: Sendable, Equatable {
        var name: String
        var role: Role
        var listen: HostPort
        /// The host others dial this node at, when it listens on all interfaces (`0.0.0.0`); its
        /// certificate must name it.
        var advertise: String?
        /// Gateways: where the HTTP API listens.
        var http: HostPort?
        /// Coordinator: the SQLite file and the audio folder.
        var database: String?
        var audioDir: String?
        /// Workers: pages synthesised at once.
        var concurrency: Int?
        /// Overrides of the default certificate and key paths.
        var cert: String?
        var key: String?
    }

    var cluster: String
    var tls: TLS
    var timings = Timings()
    var maxFrameBytes: Int = 16 << 20
    /// How much an unauthenticated or silent peer may hold (see `ClusterSettings`).
    struct Transport: Equatable {
        var maxUnauthenticatedConnections = 64
        var handshakeTimeout: Duration = .seconds(5)
        var maxIncomingCallsPerConnection = 256
        /// `full-mesh` (default) or `swim`, and SWIM's probe period and idle-connection timeout.
        var membership = ClusterSettings.MembershipProtocol.fullMesh
        var probeInterval: Duration = .milliseconds(200)
        var idleConnectionTimeout: Duration = .seconds(10)
        var probeRings = 4
    }
    var transport = Transport()
    var maxUploadBytes: Int = 100 << 20
    /// What a PDF may declare before native code works on it (see `CoordinatorSettings`).
    struct Limits: Equatable {
        var maxPages = 5000
        var maxPageCharacters = 200_000
    }
    var limits = Limits()
    var apiToken: String?
    /// Where the coordinator keeps books: its SQLite file (`database`), or PostgreSQL.
    var store = CoordinatorSettings.Store.sqlite
    var nodes: [Node]
    /// The folder relative paths are resolved against.
    var baseDirectory: URL

    func node(named name: String) throws -> Node {
        guard let node = nodes.first(where: { $0.name == name }) else {
            throw ConfigError(
                "no node named '\(name)' in the configuration (known: \(nodes.map(\.name).joined(separator: ", ")))"
            )
        }
        return node
    }

    func nodes(_ role: Role) -> [Node] { nodes.filter { $0.role == role } }

    func path(_ relative: String) -> String {
        relative.hasPrefix("/") ? relative : baseDirectory.appendingPathComponent(relative).path
    }

    func certificatePath(for name: String) -> String {
        if let node = nodes.first(where: { $0.name == name }), let cert = node.cert {
            return path(cert)
        }
        return path("\(tls.dir)/\(name).pem")
    }

    func keyPath(for name: String) -> String {
        if let node = nodes.first(where: { $0.name == name }), let key = node.key { return path(key) }
        return path("\(tls.dir)/\(name)-key.pem")
    }
}

/// A configuration mistake, worded to point at the key and line to fix.
struct ConfigError: Error, CustomStringConvertible, Equatable {
    var description: String
    init(_ description: String) { self.description = description }
}
