import GRPCCore
import GRPCNIOTransportHTTP2

/// The server and client transports of the run: HTTP/2 over mutual TLS on 127.0.0.1, one client
/// connection, set up so that no gRPC default limits the 1 MB payloads or the concurrent callers.
enum LoopbackTransports {
    /// The largest message either side accepts. gRPC's usual default (4 MiB) would already take
    /// the 1 MB payload; it is raised and set on both sides so no default is in the way.
    static let maxMessageBytes = 16 << 20

    /// The HTTP/2 flow-control window of both sides: the client's default. The server's default
    /// (64 KiB) would stall every 1 MB request for window updates (about 3x fewer 1 MB calls/s).
    static let windowBytes = 8 << 20

    /// The server, on an ephemeral port. It advertises `maxConcurrentStreams`: without the
    /// setting, NIO's HTTP/2 client would queue streams beyond 100 on the single connection.
    static func server(
        identity: CertificateAuthority.Identity, authorityPEM: String, maxConcurrentStreams: Int
    ) -> HTTP2ServerTransport.Posix {
        .http2NIOPosix(
            address: .ipv4(host: "127.0.0.1", port: 0),
            transportSecurity: .mTLS(
                certificateChain: [.bytes(Array(identity.certificatePEM.utf8), format: .pem)],
                privateKey: .bytes(Array(identity.privateKeyPEM.utf8), format: .pem)
            ) { tls in
                tls.trustRoots = .certificates([.bytes(Array(authorityPEM.utf8), format: .pem)])
            },
            config: .defaults { config in
                config.rpc.maxRequestPayloadSize = maxMessageBytes
                config.http2.maxConcurrentStreams = maxConcurrentStreams
                config.http2.targetWindowSize = windowBytes
            })
    }

    /// The client of the server listening on `port`, trusting only the run's authority.
    static func client(
        port: Int, identity: CertificateAuthority.Identity, authorityPEM: String
    ) throws -> HTTP2ClientTransport.Posix {
        let limits = MethodConfig(
            names: [MethodConfig.Name(service: Lector_Bench_Echo.descriptor.fullyQualifiedService)],
            maxRequestMessageBytes: maxMessageBytes, maxResponseMessageBytes: maxMessageBytes)
        return try .http2NIOPosix(
            target: .ipv4(address: "127.0.0.1", port: port),
            transportSecurity: .mTLS(
                certificateChain: [.bytes(Array(identity.certificatePEM.utf8), format: .pem)],
                privateKey: .bytes(Array(identity.privateKeyPEM.utf8), format: .pem)
            ) { tls in
                tls.trustRoots = .certificates([.bytes(Array(authorityPEM.utf8), format: .pem)])
            },
            config: .defaults { config in config.http2.targetWindowSize = windowBytes },
            serviceConfig: ServiceConfig(methodConfig: [limits]))
    }
}
