import Foundation
import Testing

@testable import lector

@Suite("cluster.yaml")
struct ClusterConfigTests {
    static let valid = """
        cluster: prod
        tls:
          ca: certs/ca.pem
          ca_key: certs/ca-key.pem
          dir: certs
        timings:
          heartbeat_interval: 250ms
          failure_timeout: 4s
          job_lease: 2m
          max_attempts: 5
        http:
          max_upload_bytes: 2048
        nodes:
          - name: gateway
            role: gateway
            listen: 10.0.0.1:7400
            http: 0.0.0.0:8000
          - name: coordinator
            role: coordinator
            listen: 10.0.0.2:7401
            database: /var/lib/lector/db.sqlite
          - name: worker-1
            role: worker
            listen: "[::1]:7402"
            concurrency: 4
        """

    func parse(_ yaml: String) throws -> ClusterConfig {
        try ClusterConfig.parse(yaml: yaml, baseDirectory: URL(fileURLWithPath: "/etc/lector"))
    }

    @Test func validFileParsesIntoTypedSettings() throws {
        let config = try parse(Self.valid)
        #expect(config.cluster == "prod")
        #expect(config.timings.heartbeatInterval == .milliseconds(250))
        #expect(config.timings.failureTimeout == .seconds(4))
        #expect(config.timings.jobLease == .seconds(120))
        #expect(config.timings.maxAttempts == 5)
        #expect(config.maxUploadBytes == 2048)
        #expect(config.nodes.map(\.role) == [.gateway, .coordinator, .worker])
        #expect(config.nodes[0].http == .init(host: "0.0.0.0", port: 8000))
        #expect(config.nodes[1].database == "/var/lib/lector/db.sqlite")
        #expect(config.nodes[1].audioDir == "data/audio")
        #expect(config.nodes[2].listen == .init(host: "::1", port: 7402))
        #expect(config.nodes[2].concurrency == 4)
        #expect(config.path(config.tls.ca) == "/etc/lector/certs/ca.pem")
        #expect(config.certificatePath(for: "worker-1") == "/etc/lector/certs/worker-1.pem")
        #expect(config.keyPath(for: "extra-9") == "/etc/lector/certs/extra-9-key.pem")
    }

    @Test(arguments: [
        ("    concurency: 4", "cluster.yaml:25: unknown key 'nodes[2].concurency'"),
        ("    database: x.sqlite", "cluster.yaml:25: nodes[2].database: not a setting of a worker"),
        (
            "    concurrency: lots",
            "cluster.yaml:25: nodes[2].concurrency: expected a whole number, found 'lots'"
        ),
        ("    concurrency: 0", "cluster.yaml:25: nodes[2].concurrency: 0 is out of range 1...256"),
    ])
    func badNodeSettingsNameTheKeyAndLine(line: String, expected: String) throws {
        let yaml = Self.valid.replacingOccurrences(of: "    concurrency: 4", with: line)
        do {
            _ = try parse(yaml)
            Issue.record("expected an error for \(line)")
        } catch let error as ConfigError {
            #expect(error.description.hasPrefix(expected), "\(error.description)")
        }
    }

    @Test func otherMistakesAreExplained() throws {
        let cases: [(String, String, String)] = [
            (
                "  heartbeat_interval: 250ms", "  heartbeat_interval: soon",
                "timings.heartbeat_interval: expected a positive duration"
            ),
            ("    listen: 10.0.0.1:7400", "    listen: 10.0.0.1", "nodes[0].listen: expected HOST:PORT"),
            (
                "    role: gateway", "    role: router",
                "nodes[0].role: must be one of gateway, coordinator, worker"
            ),
            // Numbers that would overflow the milliseconds they become, or make no sense as a time.
            ("  job_lease: 2m", "  job_lease: 1e30s", "timings.job_lease: must be at most 86400 seconds"),
            ("  job_lease: 2m", "  job_lease: 25h", "timings.job_lease: must be at most 86400 seconds"),
            ("  job_lease: 2m", "  job_lease: infs", "timings.job_lease: expected a positive duration"),
            ("  job_lease: 2m", "  job_lease: nan", "timings.job_lease: expected a positive duration"),
            ("  job_lease: 2m", "  job_lease: -5s", "timings.job_lease: expected a positive duration"),
            ("  job_lease: 2m", "  job_lease: 0.1ms", "timings.job_lease: expected a positive duration"),
            ("cluster: prod", "cluster: prod\ncolour: blue", "unknown key 'colour'"),
            ("  - name: worker-1", "  - name: gateway", "node name 'gateway' appears twice"),
        ]
        for (original, replacement, expected) in cases {
            let yaml = Self.valid.replacingOccurrences(of: original, with: replacement)
            #expect(throws: ConfigError.self) { try parse(yaml) }
            do { _ = try parse(yaml) } catch let error as ConfigError {
                #expect(error.description.contains(expected), "\(error.description)")
            }
        }
        let noCoordinator = Self.valid.replacingOccurrences(
            of: "role: coordinator", with: "role: worker"
        )
        .replacingOccurrences(of: "    database: /var/lib/lector/db.sqlite\n", with: "")
        do { _ = try parse(noCoordinator) } catch let error as ConfigError {
            #expect(error.description.contains("exactly one coordinator"))
        }
    }

    /// Each file (a prefix to the valid one) is refused with an error saying the expected words.
    func expectRefused(_ cases: [(String, String)]) {
        for (prefix, expected) in cases {
            do {
                _ = try parse(prefix + Self.valid)
                Issue.record("accepted: \(prefix)")
            } catch let error as ConfigError {
                #expect(error.description.contains(expected), "\(error.description)")
            } catch {
                Issue.record("\(prefix): \(error)")
            }
        }
    }

    @Test func membershipIsTheFullMeshUnlessSWIMIsNamed() throws {
        #expect(try parse(Self.valid).transport.membership == .fullMesh)
        let swim = try parse(
            "transport:\n  membership: swim\n  probe_interval: 300ms\n  idle_connection_timeout: 20s\n  probe_rings: 3\n"
                + Self.valid)
        #expect(swim.transport.membership == .swim)
        #expect(swim.transport.probeInterval == .milliseconds(300))
        #expect(swim.transport.idleConnectionTimeout == .seconds(20))
        #expect(swim.transport.probeRings == 3)
        #expect(try parse(Self.valid).transport.probeRings == 4)
        let cases: [(String, String)] = [
            ("transport:\n  membership: gossip\n", "transport.membership: must be one of full-mesh, swim"),
            ("transport:\n  probe_interval: 5ms\n", "transport.probe_interval: must be at least 20ms"),
            ("transport:\n  probe_interval: 2m\n", "transport.probe_interval"),
            ("transport:\n  probe_rings: 17\n", "transport.probe_rings"),
            ("transport:\n  probe_rings: -1\n", "transport.probe_rings"),
        ]
        expectRefused(cases)
    }

    @Test func theStoreIsSQLiteUnlessPostgresIsNamedWithAValidURL() throws {
        #expect(try parse(Self.valid).store == .sqlite)
        #expect(try parse("store: sqlite\n" + Self.valid).store == .sqlite)
        let url = "postgres://lector@db.internal:5433/lector"
        #expect(try parse("store:\n  postgres: \"\(url)\"\n" + Self.valid).store == .postgres(url: url))
        let cases: [(String, String)] = [
            ("store: mysql\n", "store: must be `sqlite` or"),
            ("store:\n  postgres: \"mysql://x@h/db\"\n", "postgres://USER@HOST:PORT/DATABASE"),
            ("store:\n  postgres: \"postgres://h:5432/db\"\n", "names no user"),
            ("store:\n  postgres: \"postgres://u@h:5432/\"\n", "names no database"),
            ("store:\n  postgres: \"postgres://u@h/db?sslmode=maybe\"\n", "sslmode must be"),
            ("store:\n  redis: \"x\"\n", "unknown key 'store.redis'"),
        ]
        expectRefused(cases)
    }

    @Test func severalCoordinatorsNeedPostgresAndShareALease() throws {
        let standby = """

              - name: coordinator-2
                role: coordinator
                listen: 10.0.0.3:7401
            """
        let twoCoordinators = Self.valid + standby
        do {
            _ = try parse(twoCoordinators)
            Issue.record("two coordinators on one SQLite file were accepted")
        } catch let error as ConfigError {
            #expect(error.description.contains("exactly one coordinator with `store: sqlite`"), "\(error)")
        }
        let store = "store:\n  postgres: \"postgres://lector@db:5432/lector\"\n"
        let config = try parse(store + twoCoordinators)
        #expect(config.nodes(.coordinator).map(\.name) == ["coordinator", "coordinator-2"])
        // The lease lasts the failure timeout unless it is named.
        #expect(config.timings.leaseDuration == .seconds(4))
        func withLease(_ lease: String) throws -> ClusterConfig {
            try parse(
                store
                    + twoCoordinators.replacingOccurrences(
                        of: "  max_attempts: 5", with: "  max_attempts: 5\n  coordinator_lease: \(lease)"))
        }
        #expect(try withLease("9s").timings.leaseDuration == .seconds(9))
        // Too short to renew three times a lease, or so long that a crash leaves books unserved.
        for (lease, refusal) in [("100ms", "must be at least 300ms"), ("2h", "must be at most 3600 seconds")] {
            do {
                _ = try withLease(lease)
                Issue.record("a lease of \(lease) was accepted")
            } catch let error as ConfigError {
                #expect(error.description.contains("timings.coordinator_lease: \(refusal)"), "\(error)")
            }
        }
    }

    @Test func repositoryExampleIsValid() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("cluster.yaml")
        let config = try ClusterConfig.load(path: url.path)
        #expect(config.nodes(.gateway).count == 1)
        #expect(config.nodes(.coordinator).count == 1)
        #expect(config.nodes(.worker).count == 2)
    }
}
