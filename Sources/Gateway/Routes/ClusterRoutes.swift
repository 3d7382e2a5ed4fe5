import ClusterTransport
import Foundation
import Hummingbird

/// `GET /api/cluster/`: the nodes as this gateway's membership sees them.
struct ClusterRoutes {
    struct NodeView: Encodable {
        var name: String
        var role: String
        var address: String
        var state: String
        var jobsDone: Int
        @NullEncodable var currentJob: String?
        @NullEncodable var lastHeartbeat: Date?
    }

    struct ClusterView: Encodable {
        var cluster: String
        var nodes: [NodeView]
    }

    let system: ClusterSystem
    let clusterName: String

    func add(to router: Router<BasicRequestContext>) {
        let system = self.system
        let clusterName = self.clusterName
        router.get("/api/cluster") { _, _ -> Response in
            let nodes = system.members.map { member in
                NodeView(
                    name: member.name, role: member.role.isEmpty ? "unknown" : member.role,
                    address: "\(member.host):\(member.port)", state: member.status.rawValue, jobsDone: 0,
                    currentJob: nil, lastHeartbeat: member.lastHeartbeat)
            }
            return APIResponse.ok(ClusterView(cluster: clusterName, nodes: nodes), message: "Cluster membership retrieved successfully")
        }
    }
}
