import Crypto
import Foundation
import SwiftASN1
import X509

/// Makes the cluster's CA and signs node certificates, with no openssl CLI.
///
/// A node certificate names its node in the subject's common name and as a DNS subject alternative
/// name, and its role as a URI subject alternative name (`urn:lector:role:worker`); peers check
/// both against the identity claimed in the handshake.
public struct CertificateAuthority: Sendable {
    public let certificate: Certificate
    let key: P256.Signing.PrivateKey

    /// A new CA with a fresh P-256 key, valid for ten years.
    public static func create(clusterName: String, now: Date = Date()) throws -> CertificateAuthority {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName {
            OrganizationName("Lector")
            CommonName("\(clusterName) cluster CA")
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(10 * 365 * 86400),
            issuer: name,
            subject: name,
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.isCertificateAuthority(maxPathLength: 0))
                Critical(KeyUsage(keyCertSign: true, cRLSign: true))
                SubjectKeyIdentifier(hash: .init(key.publicKey))
            },
            issuerPrivateKey: .init(key)
        )
        return CertificateAuthority(certificate: certificate, key: key)
    }

    /// Loads a CA written by `write(certificateTo:keyTo:)`.
    public init(certificatePEM: String, keyPEM: String) throws {
        self.certificate = try Certificate(pemEncoded: certificatePEM)
        self.key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM)
    }

    init(certificate: Certificate, key: P256.Signing.PrivateKey) {
        self.certificate = certificate
        self.key = key
    }

    public var certificatePEM: String { get throws { try certificate.serializeAsPEM().pemString } }
    public var keyPEM: String { key.pemRepresentation }

    /// A certificate for one node, usable both to serve and to dial (mutual TLS). `role` is what
    /// the node may do in the cluster (`gateway`, `coordinator`, `worker`); `hosts` are the
    /// addresses it may be dialled at.
    public func issue(nodeName: String, role: String, hosts: [String] = [], now: Date = Date()) throws -> (
        certificatePEM: String, keyPEM: String
    ) {
        try issue(nodeName: nodeName, roleOrNil: role, hosts: hosts, now: now)
    }

    /// `roleOrNil` nil makes a certificate of the kind issued before roles (tests of the refusal).
    func issue(nodeName: String, roleOrNil role: String?, hosts: [String] = [], now: Date = Date()) throws -> (
        certificatePEM: String, keyPEM: String
    ) {
        let key = P256.Signing.PrivateKey()
        var names: [GeneralName] = [.dnsName(nodeName)]
        if let role { names.append(.uniformResourceIdentifier(Certificate.roleURIPrefix + role)) }
        for host in hosts where host != nodeName {
            if let ip = IPAddressBytes(host) {
                names.append(.ipAddress(ASN1OctetString(contentBytes: ip.bytes[...])))
            } else {
                names.append(.dnsName(host))
            }
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(),
            publicKey: .init(key.publicKey),
            notValidBefore: now.addingTimeInterval(-3600),
            notValidAfter: now.addingTimeInterval(2 * 365 * 86400),
            issuer: self.certificate.subject,
            subject: try DistinguishedName {
                OrganizationName("Lector")
                CommonName(nodeName)
            },
            signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try Certificate.Extensions {
                Critical(BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(digitalSignature: true, keyEncipherment: true))
                try ExtendedKeyUsage([.serverAuth, .clientAuth])
                SubjectAlternativeNames(names)
                AuthorityKeyIdentifier(
                    keyIdentifier: try self.certificate.extensions.subjectKeyIdentifier?.keyIdentifier)
            },
            issuerPrivateKey: .init(self.key)
        )
        return (try certificate.serializeAsPEM().pemString, key.pemRepresentation)
    }
}

/// The 4 or 16 bytes of a textual IP address, for an IP subject alternative name.
struct IPAddressBytes {
    var bytes: [UInt8]

    /// The textual form of 4 or 16 address bytes.
    static func text(_ bytes: [UInt8]) -> String? {
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let family: Int32
        switch bytes.count {
        case 4: family = AF_INET
        case 16: family = AF_INET6
        default: return nil
        }
        let written = bytes.withUnsafeBytes { raw in
            inet_ntop(family, raw.baseAddress, &buffer, socklen_t(buffer.count))
        }
        guard written != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    init?(_ text: String) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            bytes = withUnsafeBytes(of: &v4) { Array($0) }
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            bytes = withUnsafeBytes(of: &v6) { Array($0) }
        } else {
            return nil
        }
    }
}
