import ArgumentParser
import Coordinator
import Foundation

struct ConfigOptions: ParsableArguments {
    @Option(name: .long, help: "Path of cluster.yaml.")
    var config: String = "cluster.yaml"

    func load() throws -> ClusterConfig {
        do {
            return try ClusterConfig.load(path: config)
        } catch let error as ConfigError {
            throw ValidationError(error.description)
        }
    }
}

/// Shared by the three role commands: load the config, check the node has that role, run it.
protocol RoleCommand: AsyncParsableCommand {
    static var role: ClusterConfig.Role { get }
    var options: ConfigOptions { get }
    var node: String? { get }
}

extension RoleCommand {
    func runRole() async throws {
        LogSetup.bootstrap()
        NodeMetrics.bootstrap()
        let config = try options.load()
        let name = node ?? config.nodes(Self.role).first?.name
        guard let name else {
            throw ValidationError("cluster.yaml has no \(Self.role.rawValue) node; pass --node NAME")
        }
        let entry = try config.node(named: name)
        guard entry.role == Self.role else {
            throw ValidationError(
                "node '\(name)' is a \(entry.role.rawValue) in \(options.config), not a \(Self.role.rawValue)"
            )
        }
        try await NodeRunner(config: config).run(node: name)
    }
}

struct GatewayCommand: RoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "gateway", abstract: "Run a gateway node: the HTTP API and web page.")
    static let role = ClusterConfig.Role.gateway
    @OptionGroup var options: ConfigOptions
    @Option(help: "This node's name in cluster.yaml (default: the first gateway).") var node: String?
    func run() async throws { try await runRole() }
}

struct CoordinatorCommand: RoleCommand {
    static let configuration = CommandConfiguration(
        commandName: "coordinator", abstract: "Run the coordinator node.")
    static let role = ClusterConfig.Role.coordinator
    @OptionGroup var options: ConfigOptions
    @Option(help: "This node's name in cluster.yaml (default: the coordinator).") var node: String?
    func run() async throws { try await runRole() }
}

struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract:
            "Run a page worker: one listed in cluster.yaml (--node), or an extra one joining a running cluster (--join)."
    )
    @OptionGroup var options: ConfigOptions
    @Option(help: "This node's name in cluster.yaml.") var node: String?
    @Option(help: "HOST:PORT of any running node to join through (for a worker not in cluster.yaml).")
    var join: String?
    @Option(
        help: "The joining worker's name; its certificate must name it (lector certs --node NAME).")
    var name: String?
    @Option(help: "HOST:PORT the joining worker listens on; other nodes must reach it there.")
    var listen: String = "127.0.0.1:0"
    @Option(help: "The host others dial the joining worker at, when --listen is 0.0.0.0; its certificate must name it.")
    var advertise: String?
    @Option(help: "Pages the joining worker synthesises at once.") var concurrency: Int = 2

    func validate() throws {
        if join != nil, name == nil { throw ValidationError("--join needs --name NAME") }
        if join != nil, node != nil {
            throw ValidationError("use either --node (listed in cluster.yaml) or --join with --name")
        }
        if !(1...256).contains(concurrency) {
            throw ValidationError("--concurrency must be between 1 and 256")
        }
    }

    func run() async throws {
        OpenMPSetting.ensureOneThreadPerEngine()
        LogSetup.bootstrap()
        NodeMetrics.bootstrap()
        let config = try options.load()
        if let join, let name {
            let parse = { (text: String, what: String) throws -> ClusterConfig.HostPort in
                guard let colon = text.lastIndex(of: ":"),
                    let port = Int(text[text.index(after: colon)...]),
                    (0...65535).contains(port), colon != text.startIndex
                else { throw ValidationError("\(what) must be HOST:PORT, got '\(text)'") }
                return .init(host: String(text[..<colon]), port: port)
            }
            try await NodeRunner(config: config).run(
                joiner: .init(
                    name: name, join: try parse(join, "--join"), listen: try parse(listen, "--listen"),
                    advertise: advertise, concurrency: concurrency))
            return
        }
        let name = node ?? config.nodes(.worker).first?.name
        guard let name else {
            throw ValidationError("cluster.yaml has no worker node; pass --node NAME or --join")
        }
        guard try config.node(named: name).role == .worker else {
            throw ValidationError("node '\(name)' is not a worker in \(options.config)")
        }
        try await NodeRunner(config: config).run(node: name)
    }
}

struct CertsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs",
        abstract: "Make the cluster CA (if missing) and node certificates, with no openssl.")
    @OptionGroup var options: ConfigOptions
    @Option(
        help:
            "Make only this node's certificate; it need not be listed in cluster.yaml (an extra worker).")
    var node: String?
    @Option(help: "Extra host name or IP the node's certificate should carry (repeatable).") var host: [String] = []
    @Option(help: "The role of a node not listed in cluster.yaml (gateway, coordinator or worker).")
    var role: String = "worker"
    @Flag(help: "Replace existing node certificates.") var force = false

    func run() async throws {
        let config = try options.load()
        guard ClusterConfig.Role(rawValue: role) != nil else {
            throw ValidationError("--role must be gateway, coordinator or worker")
        }
        let names = node.map { [$0] } ?? config.nodes.map(\.name)
        let hostsByNode = Dictionary(uniqueKeysWithValues: names.map { ($0, host) })
        let outcome = try CertificateFiles.ensure(
            config: config, nodes: names, hosts: hostsByNode, roleOfUnlisted: role, force: force)
        if outcome.createdAuthority { print("created the cluster CA: \(config.path(config.tls.ca))") }
        for name in names {
            let verb = outcome.issued.contains(name) ? "issued" : "kept existing"
            print(
                "\(verb) certificate for \(name): \(config.certificatePath(for: name)), key \(config.keyPath(for: name))"
            )
        }
    }
}
