import Distributed
import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
import Synchronization

/// Lector's distributed actor system: actors on different nodes call each other over mutually
/// authenticated TLS connections.
///
/// Start one per process with `ClusterSystem.start(settings:)`. Local actors get identities from it,
/// calls to actors on other nodes become envelopes on a connection to that node, and a receptionist
/// and heartbeat-driven membership let nodes find each other's actors and notice who went away.
public final class ClusterSystem: DistributedActorSystem, Sendable {
    public typealias ActorID = ClusterActorID
    public typealias InvocationEncoder = ClusterInvocationEncoder
    public typealias InvocationDecoder = ClusterInvocationDecoder
    public typealias ResultHandler = ClusterResultHandler
    public typealias SerializationRequirement = Codable

    /// Gives the actor created inside `withValue` a well-known path instead of a generated one
    /// (`assignID` runs before the actor's initializer body, so it cannot be passed any other way).
    @TaskLocal public static var actorPath: String?
    /// Overrides the settings' call timeout for calls made inside `withValue`.
    @TaskLocal public static var callTimeout: Duration?

    public let node: ClusterNode
    public let role: String
    public let logger: Logger
    let settings: ClusterSettings
    let tls: ClusterTLS
    let group: any EventLoopGroup
    let errorRegistry = ErrorRegistry()
    let state: Mutex<SystemState>
    private let server: Mutex<(any Channel)?> = Mutex(nil)
    /// Calls received and not yet answered on the wire.
    let incomingCalls = Atomic<Int>(0)
    /// Inbound connections still in their TLS or node handshake.
    let unauthenticated = Atomic<Int>(0)
    let refusedConnections = Counter(label: "lector_transport_connections_refused_total")
    let heartbeatTask: Mutex<Task<Void, Never>?> = Mutex(nil)
    let swimTask: Mutex<Task<Void, Never>?> = Mutex(nil)
    let trafficCounters = TrafficCounters()

    public var receptionist: Receptionist { Receptionist(system: self) }

    /// Binds the listener, then starts dialling the seeds and sending heartbeats.
    public static func start(
        settings: ClusterSettings, logger: Logger = Logger(label: "lector.cluster"),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> ClusterSystem {
        if settings.requireCertificateMatchesName, let certified = settings.credentials.nodeName,
            certified != settings.name
        {
            throw ClusterConfigurationError(
                "node '\(settings.name)' was given the certificate of node '\(certified)'; make one with `lector certs --node \(settings.name)`"
            )
        }
        if settings.requireCertificateMatchesName {
            guard let certifiedRole = settings.credentials.nodeRole else {
                throw ClusterConfigurationError(
                    "the certificate of node '\(settings.name)' carries no role (it was made before roles were written into certificates); re-issue it with `lector certs --node \(settings.name)`"
                )
            }
            if let hosts = settings.credentials.dialableHosts, !hosts.contains(settings.dialHost) {
                throw ClusterConfigurationError(
                    "the certificate of node '\(settings.name)' does not name \(settings.dialHost), the address others dial it at; re-issue it with `lector certs --node \(settings.name) --host \(settings.dialHost)`"
                )
            }
            guard certifiedRole == settings.role else {
                throw ClusterConfigurationError(
                    "node '\(settings.name)' runs as \(settings.role) but its certificate grants the role \(certifiedRole); re-issue it with `lector certs --node \(settings.name)`"
                )
            }
        }
        if ["0.0.0.0", "::", "[::]"].contains(settings.dialHost) {
            throw ClusterConfigurationError(
                "node '\(settings.name)' listens on \(settings.host) but advertises no address others can dial; set `advertise` (or `--advertise`)"
            )
        }
        let tls = try ClusterTLS(credentials: settings.credentials)
        let delegate = DelegateBox()
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                guard let system = delegate.system else {
                    return channel.close()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try system.configurePipeline(channel, direction: .inbound, established: nil)
                }
            }
            .bind(host: settings.host, port: settings.port)
            .get()
        let port = channel.localAddress?.port ?? settings.port
        var logger = logger
        logger[metadataKey: "node"] = "\(settings.name)"
        let node = ClusterNode(
            name: settings.name, host: settings.dialHost, port: port,
            incarnation: UInt64.random(in: 1...UInt64.max))
        let system = ClusterSystem(
            node: node, settings: settings, tls: tls, group: group, logger: logger)
        system.server.withLock { $0 = channel }
        delegate.system = system
        system.addSeeds()
        system.startHeartbeats()
        system.startSWIM()
        logger.info("cluster node \(node.name) (\(settings.role)) listening on \(node.address)")
        return system
    }

    private init(
        node: ClusterNode, settings: ClusterSettings, tls: ClusterTLS, group: any EventLoopGroup,
        logger: Logger
    ) {
        self.node = node
        self.role = settings.role
        self.settings = settings
        let swim = settings.membershipProtocol == .swim
        self.state = Mutex(
            SystemState(
                membership: Membership(
                    localName: node.name,
                    timing: .init(
                        heartbeatInterval: settings.heartbeatInterval, failureTimeout: settings.failureTimeout,
                        suspectTimeout: settings.effectiveSuspectTimeout,
                        maximumReconnectBackoff: settings.maximumReconnectBackoff),
                    registrationRoles: settings.registrationRoles, judgesSilence: !swim),
                swim: swim
                    ? SWIMState(
                        local: node, role: settings.role, settings: settings.swim,
                        // Microseconds since 1970: a restart outranks whatever its last run refuted.
                        incarnation: UInt64(max(Date().timeIntervalSince1970, 0) * 1_000_000)) : nil))
        self.tls = tls
        self.group = group
        self.logger = logger
    }

    /// Lets errors of this type thrown by remote actors be rethrown as themselves at the caller.
    public func registerErrorType<E: Error & Codable>(_ type: E.Type) {
        errorRegistry.register(type)
    }

    /// Leaves the cluster: tells the peers, closes every connection (failing calls still pending) and
    /// stops the heartbeats.
    public func shutdown() async {
        await shutdown(announcing: true)
    }

    /// `announcing: false` skips the goodbye, as a crashed process would; tests use it to watch the
    /// failure detector work.
    func shutdown(announcing: Bool) async {
        // Answers already being computed get written before the connections close (bounded).
        let deadline = ContinuousClock.now + (settings.drainTimeout ?? settings.callTimeout)
        while announcing, incomingCalls.load(ordering: .relaxed) > 0, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(10))
        }
        // Streams are finished outside the lock: `finish()` runs their `onTermination` at once,
        // and that takes the lock too.
        let (connections, listings, listeners) = state.withLock {
            state -> (
                [PeerConnection], [AsyncStream<[ClusterActorID]>.Continuation], [AsyncStream<[Member]>.Continuation]
            ) in
            guard !state.isShutDown else { return ([], [], []) }
            state.isShutDown = true
            var all = Array(state.inbound.values)
            all += state.membership.connections
            let listings = state.listingSubscribers.values.map(\.continuation)
            state.listingSubscribers = [:]
            let listeners = Array(state.membershipSubscribers.values)
            state.membershipSubscribers = [:]
            return (all, listings, listeners)
        }
        for listing in listings { listing.finish() }
        for listener in listeners { listener.finish() }
        heartbeatTask.withLock { $0?.cancel() }
        swimTask.withLock { $0?.cancel() }
        // With SWIM a peer may reach this node over a connection it dialled itself: tell it there too.
        let toldOnInbound = settings.membershipProtocol == .swim
        for connection in connections where announcing && (connection.direction == .outbound || toldOnInbound) {
            connection.send(.leaving(node))
        }
        for connection in connections {
            try? await connection.channel.close().get()
        }
        if let server = server.withLock({ $0 }) {
            try? await server.close().get()
        }
        logger.info("cluster node \(node.name) shut down")
    }

    // MARK: Identities of local actors

    public func assignID<Act>(_ actorType: Act.Type) -> ClusterActorID
    where Act: DistributedActor, Act.ID == ClusterActorID {
        if let path = Self.actorPath {
            return ClusterActorID(node: node, path: path)
        }
        let number = state.withLock { state in
            state.actorCounter += 1
            return state.actorCounter
        }
        return ClusterActorID(node: node, path: "\(Act.self)-\(number)")
    }

    public func actorReady<Act>(_ actor: Act) where Act: DistributedActor, Act.ID == ClusterActorID {
        state.withLock { $0.actors[actor.id.path] = SystemState.WeakActor(actor) }
    }

    public func resignID(_ id: ClusterActorID) {
        state.withLock { state in
            state.actors[id.path] = nil
            var changed = false
            for (key, paths) in state.registrations where paths.contains(id.path) {
                state.registrations[key] = paths.filter { $0 != id.path }
                changed = true
            }
            if changed { registrationsChanged(&state) }
        }
    }

    public func resolve<Act>(id: ClusterActorID, as actorType: Act.Type) throws -> Act?
    where Act: DistributedActor, Act.ID == ClusterActorID {
        guard isLocal(id) else { return nil }
        // A local actor asked for as another type (a `$Protocol` stub) gets a proxy whose calls the
        // system routes back to the local actor.
        return state.withLock { $0.actors[id.path]?.actor } as? Act
    }

    func isLocal(_ id: ClusterActorID) -> Bool {
        id.node.name == node.name && id.node.incarnation == node.incarnation
    }

    func localActor(path: String) -> (any DistributedActor)? {
        state.withLock { $0.actors[path]?.actor }
    }

    /// A local actor and its caller rules, in one look under the lock.
    func localActorAndRules(path: String) -> (actor: any DistributedActor, rules: (any CallerRoles.Type)?)? {
        state.withLock { state in
            guard let entry = state.actors[path], let actor = entry.actor else { return nil }
            return (actor, entry.callerRoles)
        }
    }
}

/// Lets the listener, bound before the system exists, reach it once it does.
private final class DelegateBox: Sendable {
    private let box = Mutex<ClusterSystem?>(nil)
    var system: ClusterSystem? {
        get { box.withLock { $0 } }
        set { box.withLock { $0 = newValue } }
    }
}
