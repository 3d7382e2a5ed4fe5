import Foundation

/// A throwaway CA, server and client certificate (P-256) made with openssl, so the gRPC run uses
/// mutual TLS like Lector's.
struct Certificates {
    let folder: URL

    var ca: String { folder.appendingPathComponent("ca.pem").path }
    var serverCertificate: String { folder.appendingPathComponent("server.pem").path }
    var serverKey: String { folder.appendingPathComponent("server-key.pem").path }
    var clientCertificate: String { folder.appendingPathComponent("client.pem").path }
    var clientKey: String { folder.appendingPathComponent("client-key.pem").path }

    static func make() throws -> Certificates {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("grpc-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let certificates = Certificates(folder: folder)
        let extensions = folder.appendingPathComponent("san.cnf")
        try "subjectAltName=IP:127.0.0.1,DNS:localhost\n".write(to: extensions, atomically: true, encoding: .utf8)
        let p = folder.path
        try run(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "\(p)/ca-key.pem"])
        try run([
            "req", "-x509", "-new", "-key", "\(p)/ca-key.pem", "-subj", "/CN=bench-ca", "-days", "2",
            "-out", certificates.ca,
        ])
        for name in ["server", "client"] {
            try run(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "\(p)/\(name)-key.pem.sec1"])
            try run(["pkcs8", "-topk8", "-nocrypt", "-in", "\(p)/\(name)-key.pem.sec1", "-out", "\(p)/\(name)-key.pem"])
            try run(["req", "-new", "-key", "\(p)/\(name)-key.pem", "-subj", "/CN=\(name)", "-out", "\(p)/\(name).csr"])
            try run([
                "x509", "-req", "-in", "\(p)/\(name).csr", "-CA", certificates.ca, "-CAkey", "\(p)/ca-key.pem",
                "-CAcreateserial", "-days", "2", "-extfile", extensions.path, "-out", "\(p)/\(name).pem",
            ])
        }
        return certificates
    }

    func remove() {
        try? FileManager.default.removeItem(at: folder)
    }

    private static func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw CertificateError(message: "openssl \(arguments.first ?? "") failed")
        }
    }
}

struct CertificateError: Error {
    var message: String
}
