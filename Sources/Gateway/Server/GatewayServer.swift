import ClusterTransport
import Coordinator
import Hummingbird
import Logging

/// What a gateway needs to know beyond its cluster connection.
public struct GatewayConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var clusterName: String
    public var maxUploadBytes: Int
    public var apiToken: String?

    var uploadLimits: UploadLimits { UploadLimits(maxBodyBytes: maxUploadBytes) }

    public init(host: String, port: Int, clusterName: String, maxUploadBytes: Int = 100 << 20, apiToken: String? = nil)
    {
        self.host = host
        self.port = port
        self.clusterName = clusterName
        self.maxUploadBytes = maxUploadBytes
        self.apiToken = apiToken
    }
}

/// The HTTP face of the cluster. It keeps no book state: every answer comes from the coordinator
/// through the actor system, or from this node's view of membership.
public enum GatewayServer {
    public static func application(
        system: ClusterSystem, configuration: GatewayConfiguration, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        system.registerErrorType(LectorError.self)
        let client = CoordinatorClient(system: system)
        // HEAD on every GET route (a media HEAD costs one small coordinator call, no audio bytes).
        let router = Router(options: .autoGenerateHeadEndpoints)
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ErrorEnvelopeMiddleware())
        let token = configuration.apiToken.flatMap { $0.isEmpty ? nil : $0 }
        router.add(middleware: MethodNotAllowedMiddleware(token: token))
        // The token guards groups, not path prefixes: see BearerTokenMiddleware.
        let api = router.group("api")
        let media = router.group("media")
        let metrics = router.group("metrics")
        if let token {
            for group in [api, media, metrics] { group.add(middleware: BearerTokenMiddleware(token: token)) }
        }
        HealthRoutes(system: system).add(to: router)
        WebRoutes().add(to: router)
        ClusterRoutes(system: system, client: client, clusterName: configuration.clusterName).add(to: api)
        BookRoutes(client: client).add(to: api)
        VoiceRoutes(client: client).add(to: api)
        UploadRoutes(client: client, system: system, limits: configuration.uploadLimits).add(to: api)
        BookEventRoutes(client: client, system: system).add(to: api)
        MediaRoutes(client: client).add(to: media)
        MetricsRoutes(client: client, system: system).add(to: metrics)
        return Application(
            router: router,
            configuration: .init(
                address: .hostname(configuration.host, port: configuration.port), serverName: "Lector"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger)
    }
}
