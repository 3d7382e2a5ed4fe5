import ClusterTransport
import Foundation

/// Writes the CA and node certificates `cluster.yaml` points at, making only what is missing.
enum CertificateFiles {
    struct Outcome {
        var createdAuthority: Bool
        var issued: [String]
    }

    static func ensure(
        config: ClusterConfig, nodes: [String], hosts: [String: [String]] = [:], roleOfUnlisted: String = "worker",
        force: Bool = false
    ) throws -> Outcome {
        let fileManager = FileManager.default
        let caPath = config.path(config.tls.ca)
        let caKeyPath = config.path(config.tls.caKey)
        var createdAuthority = false
        let authority: CertificateAuthority
        if fileManager.fileExists(atPath: caPath) {
            guard fileManager.fileExists(atPath: caKeyPath) else {
                throw ConfigError(
                    "the CA certificate \(caPath) exists but its key \(caKeyPath) does not; node certificates must be made where the CA key is"
                )
            }
            authority = try CertificateAuthority(
                certificatePEM: String(contentsOfFile: caPath, encoding: .utf8),
                keyPEM: String(contentsOfFile: caKeyPath, encoding: .utf8))
        } else {
            authority = try CertificateAuthority.create(clusterName: config.cluster)
            try write(authority.certificatePEM, to: caPath, private: false)
            try write(authority.keyPEM, to: caKeyPath, private: true)
            createdAuthority = true
        }
        var issued: [String] = []
        for name in nodes {
            let certPath = config.certificatePath(for: name)
            let keyPath = config.keyPath(for: name)
            let listed = config.nodes.first(where: { $0.name == name })
            let role = listed?.role.rawValue ?? roleOfUnlisted
            var names = hosts[name] ?? []
            if let listed {
                names.append(listed.advertise ?? listed.listen.host)
            }
            // An existing certificate is kept only if it grants the node's role and names its
            // addresses; one made before roles were written is replaced.
            if !force, createdAuthority == false, fileManager.fileExists(atPath: keyPath),
                let pem = try? String(contentsOfFile: certPath, encoding: .utf8),
                let existing = NodeCertificate(pem: pem), existing.role == role,
                Set(names).isSubset(of: Set(existing.hosts))
            {
                continue
            }
            let pair = try authority.issue(nodeName: name, role: role, hosts: Array(Set(names)))
            try write(pair.certificatePEM, to: certPath, private: false)
            try write(pair.keyPEM, to: keyPath, private: true)
            issued.append(name)
        }
        return Outcome(createdAuthority: createdAuthority, issued: issued)
    }

    private static func write(_ text: String, to path: String, private isPrivate: Bool) throws {
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(
            at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url, options: .atomic)
        if isPrivate {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        }
    }
}
