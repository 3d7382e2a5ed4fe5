import Distributed
import Foundation

/// Where actors announce themselves under a key (`coordinator`, `page-worker`) and others find them.
///
/// Each node publishes its own registrations in its node state; peers pull a newer version with the
/// next heartbeat. An actor on a node that is `down` disappears from every listing; it reappears if
/// the node comes back.
public struct Receptionist: Sendable {
    let system: ClusterSystem

    /// Lists a local actor under `key` until it is deregistered or deinitialised.
    public func register<Act: DistributedActor>(_ actor: Act, key: String)
    where Act.ID == ClusterActorID {
        precondition(system.isLocal(actor.id), "only local actors can be registered")
        system.state.withLock { state in
            var paths = state.registrations[key, default: []]
            guard !paths.contains(actor.id.path) else { return }
            paths.append(actor.id.path)
            state.registrations[key] = paths
            system.registrationsChanged(&state)
        }
        system.pushState()
    }

    public func deregister<Act: DistributedActor>(_ actor: Act, key: String)
    where Act.ID == ClusterActorID {
        system.state.withLock { state in
            guard let paths = state.registrations[key], paths.contains(actor.id.path) else { return }
            state.registrations[key] = paths.filter { $0 != actor.id.path }
            system.registrationsChanged(&state)
        }
        system.pushState()
    }

    /// The actors registered under `key` on every node not `down`, this one included.
    ///
    /// With SWIM, the first look-up of a key makes this node fetch the registrations under it from
    /// the members gossip says hold some: a listing is complete a round trip later, and kept so.
    public func lookup(_ key: String) -> [ClusterActorID] {
        let (ids, effects) = system.state.withLock { state in
            (system.listing(key, in: state), system.interested(in: key, state: &state))
        }
        system.perform(effects)
        return ids
    }

    /// The listing for `key` now, then again whenever it changes.
    public func listing(_ key: String) -> AsyncStream<[ClusterActorID]> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: [ClusterActorID].self, bufferingPolicy: .bufferingNewest(16))
        let id = UUID()
        let system = self.system
        let effects = system.state.withLock { state in
            let effects = system.interested(in: key, state: &state)
            let current = system.listing(key, in: state)
            continuation.yield(current)
            if state.isShutDown {
                continuation.finish()
            } else {
                state.listingSubscribers[id] = SystemState.ListingSubscription(
                    key: key, continuation: continuation, last: current)
            }
            return effects
        }
        system.perform(effects)
        continuation.onTermination = { _ in
            system.state.withLock { _ = $0.listingSubscribers.removeValue(forKey: id) }
        }
        return stream
    }
}

extension ClusterSystem {
    func listing(_ key: String, in state: SystemState) -> [ClusterActorID] {
        var ids = (state.registrations[key] ?? []).map { ClusterActorID(node: node, path: $0) }
        for record in state.membership.records.values where record.status != .down {
            guard let incarnation = record.incarnation, let paths = record.registrations[key] else {
                continue
            }
            let remote = ClusterNode(
                name: record.name, host: record.host, port: record.port, incarnation: incarnation)
            ids += paths.map { ClusterActorID(node: remote, path: $0) }
        }
        return ids.sorted { ($0.node.name, $0.path) < ($1.node.name, $1.path) }
    }

    /// This node's registrations changed: peers must learn the new version.
    func registrationsChanged(_ state: inout SystemState) {
        state.stateVersion += 1
        notifyListings(&state)
        if runsSWIM {
            let keys = state.registrations.filter { !$0.value.isEmpty }.keys.sorted()
            state.swim!.republish(stateVersion: state.stateVersion, keys: keys)
        }
    }

    func notifyListings(_ state: inout SystemState) {
        for (id, subscription) in state.listingSubscribers {
            let current = listing(subscription.key, in: state)
            if current != subscription.last {
                state.listingSubscribers[id]?.last = current
                subscription.continuation.yield(current)
            }
        }
    }
}
