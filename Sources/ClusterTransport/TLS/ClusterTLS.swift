import NIOCore
import NIOSSL

/// TLS 1.3 contexts for both directions of a connection, each demanding a certificate from the other
/// side.
struct ClusterTLS: Sendable {
    let serverContext: NIOSSLContext
    let clientContext: NIOSSLContext
    let verifier: PeerVerifier

    init(credentials: ClusterCredentials) throws {
        let caNIO = try NIOSSLCertificate(
            bytes: credentials.certificateAuthority.serializeAsPEM().derBytes, format: .der)
        let certificateChain = credentials.certificateChain.map {
            NIOSSLCertificateSource.certificate($0)
        }

        var server = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificateChain, privateKey: .privateKey(credentials.privateKey))
        server.minimumTLSVersion = .tlsv13
        server.certificateVerification = .noHostnameVerification
        server.trustRoots = .certificates([caNIO])
        server.sendCANameList = true

        var client = TLSConfiguration.makeClientConfiguration()
        client.minimumTLSVersion = .tlsv13
        client.certificateVerification = .noHostnameVerification
        client.trustRoots = .certificates([caNIO])
        client.certificateChain = certificateChain
        client.privateKey = .privateKey(credentials.privateKey)

        self.serverContext = try NIOSSLContext(configuration: server)
        self.clientContext = try NIOSSLContext(configuration: client)
        self.verifier = PeerVerifier(certificateAuthority: credentials.certificateAuthority)
    }

    func makeServerHandler() -> NIOSSLServerHandler {
        NIOSSLServerHandler(context: serverContext, customVerificationCallback: verifier.callback)
    }

    func makeClientHandler() throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(
            context: clientContext, serverHostname: nil, customVerificationCallback: verifier.callback)
    }
}
