import Distributed
import Metrics

/// A distributed actor that says which roles may call which of its methods.
///
/// Checked on the callee before a call's arguments are decoded: a call from a role not allowed
/// fails with `ClusterError.forbidden` and is counted in `lector_actor_calls_forbidden_total`.
/// Roles come from the caller's certificate, so a peer cannot claim another. Calls between actors
/// of one node are not checked.
public protocol CallerRoles {
    /// The roles that may call `method` (its base name, such as `delete`); nil lets any role call it.
    /// A method not named should answer a default, never nil by accident: deny by default.
    static func allowedRoles(forMethod method: String) -> Set<String>?
}

enum CallAuthorization {
    static let forbiddenCalls = Counter(label: "lector_actor_calls_forbidden_total")

    /// The base name of a distributed method from its mangled target identifier: `delete` for
    /// `Coordinator.delete(book:)`. nil when it cannot be read, which guarded actors refuse.
    static func methodName(of identifier: String) -> String? {
        let readable = RemoteCallTarget(identifier).description
        guard let open = readable.firstIndex(of: "(") else { return nil }
        let qualified = readable[..<open]
        let name = qualified.split(separator: ".").last.map(String.init) ?? String(qualified)
        return name.isEmpty || name.contains("$") ? nil : name
    }

    /// nil when the call may go ahead, otherwise why not.
    static func refusal(
        of target: String, rules: any CallerRoles.Type, actorType: Any.Type, callerRole: String
    ) -> String? {
        guard let method = methodName(of: target) else {
            return "\(actorType): a call whose method cannot be read is refused"
        }
        guard let roles = rules.allowedRoles(forMethod: method) else { return nil }
        guard roles.contains(callerRole) else {
            return "a \(callerRole) may not call \(actorType).\(method)"
        }
        return nil
    }
}
