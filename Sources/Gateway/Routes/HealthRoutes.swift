import ClusterTransport
import Hummingbird

/// `GET /healthz`: answers as long as the gateway process runs; never needs the coordinator.
struct HealthRoutes {
    struct Health: Encodable {
        var node: String
        var role: String
    }

    let system: ClusterSystem

    func add(to router: Router<BasicRequestContext>) {
        let system = self.system
        router.get("/healthz") { _, _ -> Response in
            APIResponse.ok(Health(node: system.node.name, role: system.role), message: "ok")
        }
    }
}
