import ClusterTransport

/// The roles of a Lector cluster, as certificates grant them (`urn:lector:role:…`).
public enum NodeRole {
    public static let gateway = "gateway"
    public static let coordinator = "coordinator"
    public static let worker = "worker"
}

extension Coordinator: CallerRoles {
    /// Everything the coordinator offers is the book API, for gateways; workers only answer it.
    public static func allowedRoles(forMethod method: String) -> Set<String>? {
        [NodeRole.gateway]
    }
}
