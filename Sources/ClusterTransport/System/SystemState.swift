import Distributed
import Foundation
import NIOCore

/// Everything mutable in a `ClusterSystem`, kept behind its one lock.
struct SystemState {
    /// Weak, so a local actor that nobody holds any more goes away (and `resignID` removes it).
    final class WeakActor {
        weak var actor: (any DistributedActor)?
        /// The actor's caller rules, looked up once (a conformance cast per call was measurable).
        let callerRoles: (any CallerRoles.Type)?
        init(_ actor: any DistributedActor) {
            self.actor = actor
            self.callerRoles = type(of: actor) as? any CallerRoles.Type
        }
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
    /// Who is in the cluster (a pure state machine; this state's owner does its I/O).
    var membership: Membership<PeerConnection>
    /// The SWIM detector and its members' addresses, when the cluster runs SWIM.
    var swim: SWIMState?
    /// Dials under way to named members, for calls that wait on them.
    var dials: [String: EventLoopFuture<(PeerConnection, Hello)>] = [:]
    var inbound: [ObjectIdentifier: PeerConnection] = [:]
    var listingSubscribers: [UUID: ListingSubscription] = [:]
    /// Receptionist keys this node has looked up: with SWIM, it pulls registrations under these.
    var interests: Set<String> = []
    var membershipSubscribers: [UUID: AsyncStream<[Member]>.Continuation] = [:]
    var lastMembership: [Member] = []
    /// The membership revision `lastMembership` was built at.
    var publishedRevision: UInt64?
    var isShutDown = false

    init(membership: Membership<PeerConnection>, swim: SWIMState? = nil) {
        self.membership = membership
        self.swim = swim
    }
}
