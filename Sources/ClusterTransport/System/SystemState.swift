import Distributed
import Foundation

/// Everything mutable in a `ClusterSystem`, kept behind its one lock.
struct SystemState {
    /// Weak, so a local actor that nobody holds any more goes away (and `resignID` removes it).
    final class WeakActor {
        weak var actor: (any DistributedActor)?
        init(_ actor: any DistributedActor) { self.actor = actor }
    }

    struct JoinSeed {
        var host: String
        var port: Int
        var connecting = false
        var isJoined = false
        var retryAt: ContinuousClock.Instant
        var backoff: Duration
        var lastError: String?
    }

    struct ListingSubscription {
        var key: String
        var continuation: AsyncStream<[ClusterActorID]>.Continuation
        var last: [ClusterActorID]?
    }

    var actors: [String: WeakActor] = [:]
    var actorCounter: UInt64 = 0
    /// Receptionist key → paths of local actors.
    var registrations: [String: [String]] = [:]
    var stateVersion: UInt64 = 1
    var members: [String: MemberRecord] = [:]
    var joinSeeds: [JoinSeed] = []
    var inbound: [ObjectIdentifier: PeerConnection] = [:]
    var listingSubscribers: [UUID: ListingSubscription] = [:]
    var membershipSubscribers: [UUID: AsyncStream<[Member]>.Continuation] = [:]
    var lastMembership: [Member] = []
    /// Name → incarnation of the members last advertised in this node's state.
    var gossipedMembers: [String: UInt64] = [:]
    var isShutDown = false
}
