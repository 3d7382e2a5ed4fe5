import Distributed
import Foundation
import Logging

@testable import ClusterTransport

/// A throwaway CA and helpers to start real systems on loopback with real mutual TLS.
struct TestCluster {
    let authority: CertificateAuthority
    /// Silence after which a node is `down`. Tests of something else than failure detection
    /// lengthen it: every suite starts at once, and a process starved for 3 s there lost its nodes.
    var failureTimeout: Duration = .seconds(3)
    var membership: ClusterSettings.MembershipProtocol = .fullMesh

    init(name: String = "test") throws {
        authority = try CertificateAuthority.create(clusterName: name)
    }

    func credentials(for node: String, role: String = "test") throws -> ClusterCredentials {
        let issued = try authority.issue(nodeName: node, role: role, hosts: ["127.0.0.1"])
        return try ClusterCredentials(
            caPEM: authority.certificatePEM, certificatePEM: issued.certificatePEM, keyPEM: issued.keyPEM)
    }

    func settings(
        _ name: String, role: String = "test", port: Int = 0, seeds: [ClusterSettings.Seed] = []
    ) throws -> ClusterSettings {
        var settings = ClusterSettings(
            name: name, role: role, host: "127.0.0.1", port: port,
            credentials: try credentials(for: name, role: role), seeds: seeds)
        settings.heartbeatInterval = .milliseconds(100)
        // Loose enough that a loaded CI machine (every suite runs at once) does not take a slow
        // heartbeat for a dead node and close a connection mid-test.
        settings.failureTimeout = failureTimeout
        settings.membershipProtocol = membership
        settings.callTimeout = .seconds(5)
        settings.maximumReconnectBackoff = .milliseconds(300)
        return settings
    }

    func start(_ name: String, port: Int = 0, seeds: [ClusterSystem] = []) async throws
        -> ClusterSystem
    {
        try await ClusterSystem.start(
            settings: settings(
                name, port: port,
                seeds: seeds.map { .init(name: $0.node.name, host: "127.0.0.1", port: $0.node.port) }),
            logger: Logger(label: "test.\(name)"))
    }
}

struct GreeterFailure: Error, Codable, Equatable {
    var reason: String
}

struct PlainFailure: Error, CustomStringConvertible {
    var description: String { "the plain failure happened" }
}

distributed actor Greeter {
    typealias ActorSystem = ClusterSystem

    distributed func greet(_ name: String) -> String {
        "Hello, \(name) from \(actorSystem.node.name)!"
    }

    distributed func failCodable(_ reason: String) throws {
        throw GreeterFailure(reason: reason)
    }

    distributed func failPlain() throws -> Int {
        throw PlainFailure()
    }

    distributed func nothing() {}

    distributed func sleep(milliseconds: Int) async throws -> Int {
        try await Task.sleep(for: .milliseconds(milliseconds))
        return milliseconds
    }

    distributed func echo(_ data: Data) -> Data { data }

    distributed func sum(_ numbers: [Int], label: String?) -> String {
        "\(label ?? "sum")=\(numbers.reduce(0, +))"
    }
}

/// Polls until `condition` holds or the deadline passes; the tests' only way to wait for gossip.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws
    -> Bool
{
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
