import Foundation
import NIOCore
import NIOSSL
import X509

/// Judges the certificate chain a peer presents.
///
/// NIOSSL's custom verification replaces all of BoringSSL's own checks (the configured trust roots are
/// then ignored), so the chain is validated here against the cluster CA with RFC 5280 rules. Whether
/// the certificate names the node the peer claims to be is checked later, in the handshake.
struct PeerVerifier: Sendable {
    let certificateAuthority: Certificate

    /// The callback shape NIOSSL expects, made `@Sendable` so the system can hold it.
    typealias Callback =
        @Sendable ([NIOSSLCertificate], EventLoopPromise<NIOSSLVerificationResult>) -> Void

    var callback: Callback {
        let authority = certificateAuthority
        return { chain, promise in
            let certificates: [Certificate]
            do {
                certificates = try chain.map { try Certificate(derEncoded: $0.toDERBytes()) }
            } catch {
                promise.succeed(.failed)
                return
            }
            guard let leaf = certificates.first else {
                promise.succeed(.failed)
                return
            }
            promise.completeWithTask {
                var verifier = Verifier(rootCertificates: CertificateStore([authority])) {
                    RFC5280Policy()
                }
                let result = await verifier.validate(
                    leaf: leaf, intermediates: CertificateStore(certificates.dropFirst()))
                switch result {
                case .validCertificate: return .certificateVerified
                case .couldNotValidate: return .failed
                }
            }
        }
    }
}
