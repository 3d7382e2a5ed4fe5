import Crypto
import Foundation
import SwiftASN1
import X509

/// A throwaway certificate authority made in memory (P-256), and the server and client
/// certificates it issues for loopback (SAN 127.0.0.1 and localhost): the gRPC run uses mutual
/// TLS, as Lector's cluster does. Nothing touches the disk.
struct CertificateAuthority {
    /// A certificate and its private key, both PEM.
    struct Identity {
        var certificatePEM: String
        var privateKeyPEM: String
    }

    let certificatePEM: String
    private let key: P256.Signing.PrivateKey
    private let name: DistinguishedName

    init() throws {
        key = P256.Signing.PrivateKey()
        name = try DistinguishedName { CommonName("grpc-bench CA") }
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(key.publicKey),
            notValidBefore: now - 60, notValidAfter: now + 24 * 3600,
            issuer: name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true))
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        certificatePEM = try certificate.serializeAsPEM().pemString
    }

    /// A leaf certificate for `commonName`, valid for 127.0.0.1 and localhost, for both TLS roles.
    func issue(commonName: String) throws -> Identity {
        let leafKey = P256.Signing.PrivateKey()
        let now = Date()
        let certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: Certificate.PublicKey(leafKey.publicKey),
            notValidBefore: now - 60, notValidAfter: now + 24 * 3600,
            issuer: name, subject: try DistinguishedName { CommonName(commonName) },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames([
                    .ipAddress(ASN1OctetString(contentBytes: [127, 0, 0, 1])), .dnsName("localhost"),
                ])
            },
            issuerPrivateKey: Certificate.PrivateKey(key))
        return Identity(
            certificatePEM: try certificate.serializeAsPEM().pemString, privateKeyPEM: leafKey.pemRepresentation)
    }
}
