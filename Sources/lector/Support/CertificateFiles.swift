import ClusterTransport
import Foundation

/// Writes the CA and node certificates `cluster.yaml` points at, making only what is missing.
enum CertificateFiles {
    struct Outcome {
        var createdAuthority: Bool
        var issued: [String]
    }

    static func ensure(
        config: ClusterConfig, nodes: [String], hosts: [String: [String]] = [:], force: Bool = false
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
            if !force, createdAuthority == false, fileManager.fileExists(atPath: certPath),
                fileManager.fileExists(atPath: keyPath)
            {
                continue
            }
            var names = hosts[name] ?? []
            if let node = config.nodes.first(where: { $0.name == name }) {
                names.append(node.listen.host)
            }
            let pair = try authority.issue(nodeName: name, hosts: Array(Set(names)))
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
