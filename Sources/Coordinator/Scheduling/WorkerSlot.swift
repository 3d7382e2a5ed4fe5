import ClusterTransport
import Foundation

/// A page worker as the dispatcher sees it: how much it takes and what it holds.
struct WorkerSlot {
    let worker: any PageSynthesizing
    let node: String
    var capacity: Int
    var inFlight: Set<PageKey> = []
    var jobsDone = 0

    var freeSlots: Int { capacity - inFlight.count }
}

/// The current attempt of a page that is out with a worker. A result is accepted only if it names
/// this lease.
struct Lease {
    var worker: ClusterActorID
    var attempt: Int
    var token: UUID
    var started = ContinuousClock.now
}

/// A worker's answer for a page, accepted under its lease and waiting to be written.
struct AcceptedPage {
    var key: PageKey
    var lease: Lease
    var audio: PageAudio
}
