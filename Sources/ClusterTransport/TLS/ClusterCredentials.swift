import Foundation
import NIOSSL
import X509

/// What a node needs for mutual TLS: the cluster CA to judge peers by, and its own certificate and
/// key to be judged by.
public struct ClusterCredentials: Sendable {
    public var certificateAuthority: Certificate
    public var certificateChain: [NIOSSLCertificate]
    public var privateKey: NIOSSLPrivateKey

    public init(
        certificateAuthority: Certificate, certificateChain: [NIOSSLCertificate],
        privateKey: NIOSSLPrivateKey
    ) {
        self.certificateAuthority = certificateAuthority
        self.certificateChain = certificateChain
        self.privateKey = privateKey
    }

    /// Loads PEM files as written by `CertificateAuthority`.
    public init(caFile: String, certificateFile: String, keyFile: String) throws {
        func read(_ path: String, _ what: String) throws -> String {
            do {
                return try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw ClusterConfigurationError(
                    "cannot read the \(what) file \(path): \(error.localizedDescription)")
            }
        }
        do {
            try self.init(
                caPEM: try read(caFile, "CA certificate"),
                certificatePEM: try read(certificateFile, "node certificate"),
                keyPEM: try read(keyFile, "node key"))
        } catch let error as ClusterConfigurationError {
            throw error
        } catch {
            throw ClusterConfigurationError(
                "cannot parse the TLS files (\(caFile), \(certificateFile), \(keyFile)): \(error)")
        }
    }

    /// Parses PEM text: the CA certificate, the node's certificate (chain) and its private key.
    public init(caPEM: String, certificatePEM: String, keyPEM: String) throws {
        self.certificateAuthority = try Certificate(pemEncoded: caPEM)
        self.certificateChain = try NIOSSLCertificate.fromPEMBytes(Array(certificatePEM.utf8))
        self.privateKey = try NIOSSLPrivateKey(bytes: Array(keyPEM.utf8), format: .pem)
    }

    /// This node's own certificate, parsed.
    private var leaf: Certificate? {
        guard let first = certificateChain.first else { return nil }
        return try? Certificate(derEncoded: first.toDERBytes())
    }

    /// The node name this node's own certificate carries.
    public var nodeName: String? { leaf?.nodeName }

    /// The hosts this node's own certificate may be dialled at.
    public var dialableHosts: [String]? { leaf?.dialableHosts }

    /// The role this node's own certificate carries (nil for a certificate made before roles).
    public var nodeRole: String? { leaf?.nodeRole }
}

/// A configuration or credential problem found at start-up, worded for the operator.
public struct ClusterConfigurationError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Certificate {
    /// Where a node's role is written: a URI subject alternative name, `urn:lector:role:<role>`.
    public static let roleURIPrefix = "urn:lector:role:"

    /// The role a certificate grants, from its subject alternative names; nil when it has none
    /// (or more than one, which no certificate `lector certs` makes has).
    public var nodeRole: String? {
        guard let names = try? extensions.subjectAlternativeNames else { return nil }
        let roles = names.compactMap { name -> String? in
            guard case .uniformResourceIdentifier(let uri) = name, uri.hasPrefix(Self.roleURIPrefix) else { return nil }
            return String(uri.dropFirst(Self.roleURIPrefix.count))
        }
        return roles.count == 1 ? roles[0] : nil
    }

    /// The hosts a certificate may be dialled at: its DNS and IP subject alternative names.
    public var dialableHosts: [String] {
        guard let names = try? extensions.subjectAlternativeNames else { return [] }
        return names.compactMap { name -> String? in
            switch name {
            case .dnsName(let host): return host
            case .ipAddress(let bytes): return IPAddressBytes.text(Array(bytes.bytes))
            default: return nil
            }
        }
    }

    /// The node a certificate speaks for: its subject's common name.
    public var nodeName: String? {
        for rdn in subject.reversed() {
            for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                return String(attribute.value)
            }
        }
        return nil
    }
}

/// What a node certificate says, for tools that check certificates on disk.
public struct NodeCertificate: Sendable, Equatable {
    public var name: String?
    public var role: String?
    public var hosts: [String]

    public init?(pem: String) {
        guard let certificate = try? Certificate(pemEncoded: pem) else { return nil }
        name = certificate.nodeName
        role = certificate.nodeRole
        hosts = certificate.dialableHosts
    }
}
