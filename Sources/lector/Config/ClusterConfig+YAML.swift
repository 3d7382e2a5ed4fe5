import ClusterTransport
import Coordinator
import Foundation
import Yams

extension ClusterConfig {
    static func load(path: String) throws -> ClusterConfig {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigError("cannot read \(path): \(error.localizedDescription)")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        return try parse(yaml: text, file: (path as NSString).lastPathComponent, baseDirectory: base)
    }

    static func parse(yaml: String, file: String = "cluster.yaml", baseDirectory: URL) throws
        -> ClusterConfig
    {
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch {
            throw ConfigError("\(file): not valid YAML: \(error)")
        }
        guard let root else { throw ConfigError("\(file) is empty") }
        let top = try YAMLReader(root, path: "", file: file).mapping(allowed: [
            "cluster", "tls", "timings", "transport", "http", "limits", "nodes", "store",
        ])

        let tlsReader = try top.required("tls").mapping(allowed: ["ca", "ca_key", "dir"])
        let tls = TLS(
            ca: try tlsReader.optional("ca")?.string() ?? "certs/ca.pem",
            caKey: try tlsReader.optional("ca_key")?.string() ?? "certs/ca-key.pem",
            dir: try tlsReader.optional("dir")?.string() ?? "certs")

        var timings = Timings()
        if let reader = try top.optional("timings")?.mapping(allowed: [
            "heartbeat_interval", "failure_timeout", "call_timeout", "job_lease", "max_attempts",
            "coordinator_lease",
        ]) {
            if let value = try reader.optional("heartbeat_interval") {
                timings.heartbeatInterval = try value.duration()
            }
            if let value = try reader.optional("failure_timeout") {
                timings.failureTimeout = try value.duration()
            }
            if let value = try reader.optional("call_timeout") {
                timings.callTimeout = try value.duration()
            }
            if let value = try reader.optional("job_lease") { timings.jobLease = try value.duration() }
            if let value = try reader.optional("max_attempts") {
                timings.maxAttempts = try value.int(in: 1...100)
            }
            if let value = try reader.optional("coordinator_lease") {
                // An hour at most: a longer lease would leave books unserved that long after a crash.
                timings.coordinatorLease = try value.duration(atMost: .seconds(3600))
                guard timings.coordinatorLease! >= .milliseconds(300) else {
                    throw value.error("must be at least 300ms (it is renewed three times per lease)")
                }
            }
            guard timings.failureTimeout > timings.heartbeatInterval else {
                throw ConfigError(
                    "\(file): timings.failure_timeout must be longer than timings.heartbeat_interval")
            }
        }

        var maxFrameBytes = 16 << 20
        var transport = ClusterConfig.Transport()
        if let reader = try top.optional("transport")?.mapping(allowed: [
            "max_frame_bytes", "max_unauthenticated_connections", "handshake_timeout",
            "max_incoming_calls_per_connection", "membership", "probe_interval", "idle_connection_timeout",
            "probe_rings",
        ]) {
            if let value = try reader.optional("max_frame_bytes") {
                maxFrameBytes = try value.int(in: 4096...(1 << 30))
            }
            if let value = try reader.optional("max_unauthenticated_connections") {
                transport.maxUnauthenticatedConnections = try value.int(in: 1...100_000)
            }
            if let value = try reader.optional("handshake_timeout") {
                transport.handshakeTimeout = try value.duration()
            }
            if let value = try reader.optional("max_incoming_calls_per_connection") {
                transport.maxIncomingCallsPerConnection = try value.int(in: 1...100_000)
            }
            if let value = try reader.optional("membership") {
                let names = ClusterSettings.MembershipProtocol.allCases.map(\.rawValue)
                guard let membership = ClusterSettings.MembershipProtocol(rawValue: try value.string()) else {
                    throw value.error("must be one of \(names.joined(separator: ", "))")
                }
                transport.membership = membership
            }
            if let value = try reader.optional("probe_interval") {
                transport.probeInterval = try value.duration(atMost: .seconds(60))
                guard transport.probeInterval >= .milliseconds(20) else { throw value.error("must be at least 20ms") }
            }
            if let value = try reader.optional("idle_connection_timeout") {
                transport.idleConnectionTimeout = try value.duration()
            }
            if let value = try reader.optional("probe_rings") {
                transport.probeRings = try value.int(in: 0...ClusterSettings.maximumProbeRings)
            }
        }

        var maxUploadBytes = 100 << 20
        var apiToken: String?
        if let reader = try top.optional("http")?.mapping(allowed: ["max_upload_bytes", "api_token"]) {
            if let value = try reader.optional("max_upload_bytes") {
                maxUploadBytes = try value.int(in: 1...(1 << 40))
            }
            if let value = try reader.optional("api_token") { apiToken = try value.string() }
        }

        var limits = ClusterConfig.Limits()
        if let reader = try top.optional("limits")?.mapping(allowed: ["max_pages", "max_page_characters"]) {
            if let value = try reader.optional("max_pages") { limits.maxPages = try value.int(in: 1...1_000_000) }
            if let value = try reader.optional("max_page_characters") {
                limits.maxPageCharacters = try value.int(in: 1000...10_000_000)
            }
        }

        var store = CoordinatorSettings.Store.sqlite
        if let reader = try top.optional("store") {
            if case .scalar = reader.node {
                guard try reader.string() == "sqlite" else {
                    throw reader.error("must be `sqlite` or `{ postgres: \"postgres://USER@HOST:PORT/DB\" }`")
                }
            } else {
                let url = try reader.mapping(allowed: ["postgres"]).required("postgres")
                do {
                    store = try .postgres(checking: try url.string())
                } catch let error as ConfigError {
                    throw error
                } catch {
                    throw url.error("\(error)")
                }
            }
        }

        var nodes: [Node] = []
        for reader in try top.required("nodes").sequence() {
            let fields = try reader.mapping(allowed: [
                "name", "role", "listen", "advertise", "http", "database", "audio_dir", "concurrency", "cert", "key",
            ])
            let name = try fields.required("name").string()
            guard name.range(of: #"^[A-Za-z0-9][A-Za-z0-9._-]*$"#, options: .regularExpression) != nil
            else {
                throw try fields.required("name").error("node names use letters, digits, '.', '_' and '-'")
            }
            guard !nodes.contains(where: { $0.name == name }) else {
                throw try fields.required("name").error("node name '\(name)' appears twice")
            }
            let roleReader = try fields.required("role")
            guard let role = Role(rawValue: try roleReader.string()) else {
                throw roleReader.error(
                    "must be one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            var node = Node(name: name, role: role, listen: try fields.required("listen").hostPort())
            node.advertise = try fields.optional("advertise")?.string()
            if ["0.0.0.0", "::", "[::]"].contains(node.listen.host), node.advertise == nil {
                throw try fields.required("listen").error(
                    "a node listening on all interfaces needs `advertise: HOST`, the address others dial it at")
            }
            node.cert = try fields.optional("cert")?.string()
            node.key = try fields.optional("key")?.string()
            switch role {
            case .gateway:
                node.http =
                    try fields.optional("http")?.hostPort() ?? HostPort(host: "127.0.0.1", port: 8000)
                try fields.forbid(["database", "audio_dir", "concurrency"], for: "a gateway")
            case .coordinator:
                node.database = try fields.optional("database")?.string() ?? "data/lector.sqlite"
                node.audioDir = try fields.optional("audio_dir")?.string() ?? "data/audio"
                try fields.forbid(["http", "concurrency"], for: "a coordinator")
            case .worker:
                node.concurrency = try fields.optional("concurrency")?.int(in: 1...256) ?? 2
                try fields.forbid(["http", "database", "audio_dir"], for: "a worker")
            }
            nodes.append(node)
        }
        let coordinators = nodes.filter { $0.role == .coordinator }.count
        if case .sqlite = store {
            guard coordinators == 1 else {
                throw ConfigError(
                    "\(file): nodes must include exactly one coordinator with `store: sqlite` (several, one active and the others standing by, need `store: { postgres: URL }`)"
                )
            }
        } else {
            guard coordinators >= 1 else {
                throw ConfigError("\(file): nodes must include at least one coordinator")
            }
        }
        var config = ClusterConfig(
            cluster: try top.optional("cluster")?.string() ?? "lector", tls: tls, timings: timings,
            maxFrameBytes: maxFrameBytes, maxUploadBytes: maxUploadBytes, apiToken: apiToken,
            nodes: nodes,
            baseDirectory: baseDirectory)
        config.limits = limits
        config.transport = transport
        config.store = store
        return config
    }
}

/// Walks a YAML node, remembering the key path and line so every error can name both.
struct YAMLReader {
    let node: Yams.Node
    let path: String
    let file: String
    private var pairs: [(key: String, value: Yams.Node, keyNode: Yams.Node)] = []

    init(_ node: Yams.Node, path: String, file: String) {
        self.node = node
        self.path = path
        self.file = file
    }

    func error(_ message: String) -> ConfigError {
        let line = node.mark.map { ":\($0.line)" } ?? ""
        return ConfigError("\(file)\(line): \(path.isEmpty ? "document" : path): \(message)")
    }

    func mapping(allowed: Set<String>) throws -> YAMLReader {
        guard case .mapping(let mapping) = node else { throw error("expected a mapping of keys") }
        var reader = self
        for (keyNode, value) in mapping {
            let key = keyNode.string ?? ""
            let keyPath = path.isEmpty ? key : "\(path).\(key)"
            guard allowed.contains(key) else {
                let line = keyNode.mark.map { ":\($0.line)" } ?? ""
                throw ConfigError(
                    "\(file)\(line): unknown key '\(keyPath)' (expected one of: \(allowed.sorted().joined(separator: ", ")))"
                )
            }
            reader.pairs.append((key, value, keyNode))
        }
        return reader
    }

    func optional(_ key: String) throws -> YAMLReader? {
        guard let pair = pairs.first(where: { $0.key == key }) else { return nil }
        if case .scalar(let scalar) = pair.value,
            scalar.string == "" || scalar.string == "~" || scalar.string == "null"
        {
            return nil
        }
        return YAMLReader(pair.value, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    func required(_ key: String) throws -> YAMLReader {
        guard let reader = try optional(key) else {
            throw error("missing required key '\(path.isEmpty ? key : "\(path).\(key)")'")
        }
        return reader
    }

    func forbid(_ keys: [String], for what: String) throws {
        for key in keys {
            if let reader = try optional(key) {
                throw reader.error("not a setting of \(what)")
            }
        }
    }

    func sequence() throws -> [YAMLReader] {
        guard case .sequence(let sequence) = node else { throw error("expected a list") }
        return sequence.enumerated().map { YAMLReader($1, path: "\(path)[\($0)]", file: file) }
    }

    func string() throws -> String {
        guard case .scalar(let scalar) = node else { throw error("expected a value, found a \(kind)") }
        return scalar.string
    }

    func int(in range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(try string()) else {
            throw error("expected a whole number, found '\(try string())'")
        }
        guard range.contains(value) else {
            throw error("\(value) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// `500ms`, `5s`, `2m`, or a bare number of seconds.
    /// At most a day: every timing here is a timeout or a lease, and a day keeps the arithmetic
    /// done on them (milliseconds, deadlines) far from overflowing.
    func duration(atMost limit: Duration = .seconds(24 * 3600)) throws -> Duration {
        let text = try string().trimmingCharacters(in: .whitespaces)
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var milliseconds: Double?
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            if let number = Double(text.dropLast(suffix.count)) {
                milliseconds = number * scale * 1000
                break
            }
        }
        if milliseconds == nil, let number = Double(text) { milliseconds = number * 1000 }
        guard let milliseconds, milliseconds.isFinite, milliseconds.rounded() >= 1 else {
            throw error("expected a positive duration such as 500ms, 5s or 2m, found '\(text)'")
        }
        let limitMilliseconds = Double(limit.components.seconds) * 1000
        guard milliseconds <= limitMilliseconds else {
            throw error("must be at most \(limit.components.seconds) seconds, found '\(text)'")
        }
        return .milliseconds(Int64(milliseconds.rounded()))
    }

    func hostPort() throws -> ClusterConfig.HostPort {
        let text = try string()
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw error("expected HOST:PORT, found '\(text)'")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw error("expected HOST:PORT, the host is missing in '\(text)'") }
        return .init(host: host, port: port)
    }

    private var kind: String {
        switch node {
        case .mapping: "mapping"
        case .sequence: "list"
        case .scalar: "value"
        case .alias: "alias"
        }
    }
}
