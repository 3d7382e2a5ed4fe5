import ClusterTransport
import Coordinator
import Foundation
import Hummingbird

/// `GET /api/cluster/`: the nodes as this gateway's membership sees them, with each worker's
/// activity from the coordinator when it answers (never failing when it does not).
struct ClusterRoutes {
    struct NodeView: Encodable {
        var name: String
        var role: String
        var address: String
        var state: String
        var jobsDone: Int
        @NullEncodable var currentJob: String?
        @NullEncodable var lastHeartbeat: Date?
        /// A worker's Tesseract packs; empty for other nodes.
        var ocrLanguages: [String]
    }

    /// The active coordinator (nil when none answers) and its lease epoch (nil without a lease:
    /// one coordinator on SQLite); `standby` are the other coordinator nodes that are up.
    struct CoordinatorView: Encodable {
        @NullEncodable var active: String?
        @NullEncodable var epoch: Int64?
        var standby: [String]
    }

    struct ClusterView: Encodable {
        var cluster: String
        var coordinator: CoordinatorView
        var nodes: [NodeView]
    }

    let system: ClusterSystem
    let client: CoordinatorClient
    let clusterName: String

    func add(to router: some RouterMethods<BasicRequestContext>) {
        let system = self.system
        let client = self.client
        let clusterName = self.clusterName
        router.get("cluster") { _, _ -> Response in
            let (activity, leadership) = await ClusterSystem.$callTimeout.withValue(.seconds(1)) {
                let leadership = try? await client.call { try await $0.leadership() }
                return ((try? await client.call { try await $0.workerActivity() }) ?? [], leadership)
            }
            let byNode = Dictionary(activity.map { ($0.node, $0) }, uniquingKeysWith: { first, _ in first })
            let nodes = system.members.map { member in
                NodeView(
                    name: member.name, role: member.role.isEmpty ? "unknown" : member.role,
                    address: "\(member.host):\(member.port)", state: member.status.rawValue,
                    jobsDone: byNode[member.name]?.jobsDone ?? 0, currentJob: byNode[member.name]?.currentJobs.first,
                    lastHeartbeat: member.lastHeartbeat, ocrLanguages: byNode[member.name]?.ocrLanguages ?? [])
            }
            let standby = system.members.filter {
                $0.role == NodeRole.coordinator && $0.status.rawValue == "up" && $0.name != leadership?.node
            }.map(\.name).sorted()
            let coordinator = CoordinatorView(active: leadership?.node, epoch: leadership?.epoch, standby: standby)
            return APIResponse.ok(
                ClusterView(cluster: clusterName, coordinator: coordinator, nodes: nodes),
                message: "Cluster membership retrieved successfully")
        }
    }
}
