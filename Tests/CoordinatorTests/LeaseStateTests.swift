import Testing

@testable import Coordinator

/// The active-coordinator lease as a state machine, driven by hand: no clock, no database.
@Suite("Coordinator lease state machine")
struct LeaseStateTests {
    let start = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { start + .milliseconds(Int(seconds * 1000)) }

    @Test func aStandbyAsksUntilGrantedThenRenewsOnItsTimer() {
        var lease = LeaseState(duration: .seconds(3), renewEvery: .seconds(1))
        #expect(lease.tick(now: at(0)) == .acquire)
        #expect(lease.acquired(epoch: nil, sentAt: at(0)) == .wait(until: at(1)))
        #expect(lease.tick(now: at(0.5)) == .wait(until: at(1)))
        #expect(lease.tick(now: at(1)) == .acquire)
        #expect(lease.acquired(epoch: 4, sentAt: at(1)) == .becomeActive(epoch: 4))
        #expect(lease.role == .active(epoch: 4))
        #expect(lease.validUntil == at(4))
        #expect(lease.tick(now: at(1.5)) == .wait(until: at(2)))
        #expect(lease.tick(now: at(2)) == .renew(epoch: 4))
        #expect(lease.renewed(true, sentAt: at(2)) == .wait(until: at(3)))
        #expect(lease.validUntil == at(5))
    }

    @Test func losingTheLeaseToAnotherStepsDownAtOnceAndStandsByAgain() {
        var lease = LeaseState(duration: .seconds(3), renewEvery: .seconds(1))
        _ = lease.tick(now: at(0))
        _ = lease.acquired(epoch: 1, sentAt: at(0))
        #expect(lease.tick(now: at(1)) == .renew(epoch: 1))
        #expect(lease.renewed(false, sentAt: at(1)) == .stepDown(reason: "another coordinator holds the lease"))
        #expect(lease.role == .standby)
        #expect(lease.validUntil == nil)
        // A deposed coordinator is a standby: it asks again, and gets a later epoch if granted.
        #expect(lease.tick(now: at(1)) == .acquire)
        #expect(lease.acquired(epoch: 3, sentAt: at(5)) == .becomeActive(epoch: 3))
    }

    @Test func anUnreachableDatabaseIsRetriedSoonerAndStepsDownWhenTheLeaseRunsOut() {
        var lease = LeaseState(duration: .seconds(3), renewEvery: .seconds(1))
        _ = lease.tick(now: at(0))
        _ = lease.acquired(epoch: 2, sentAt: at(0))
        #expect(lease.renewed(nil, sentAt: at(1)) == .wait(until: at(1.25)))
        #expect(lease.role == .active(epoch: 2))
        #expect(lease.tick(now: at(1.25)) == .renew(epoch: 2))
        #expect(lease.renewed(nil, sentAt: at(2.9)) == .wait(until: at(3)))
        // Never past the last good renewal + duration, whatever the timer says.
        #expect(lease.tick(now: at(3)) == .stepDown(reason: "the lease ran out before it could be renewed"))
        #expect(lease.role == .standby)
    }

    @Test func aStoppedCoordinatorThatWakesPastItsLeaseStepsDownBeforeActing() {
        // SIGSTOP longer than the lease: the first tick after SIGCONT sees the time gone by.
        var lease = LeaseState(duration: .seconds(3), renewEvery: .seconds(1))
        _ = lease.tick(now: at(0))
        _ = lease.acquired(epoch: 7, sentAt: at(0))
        #expect(lease.tick(now: at(10)) == .stepDown(reason: "the lease ran out before it could be renewed"))
        // A late answer to a renewal sent before the stop changes nothing once stepped down.
        #expect(lease.renewed(true, sentAt: at(0.5)) == .wait(until: at(0.5)))
        #expect(lease.role == .standby)
    }

    @Test func anAcquireThatCannotReachTheDatabaseIsTriedAgainLater() {
        var lease = LeaseState(duration: .seconds(3), renewEvery: .seconds(1))
        #expect(lease.tick(now: at(0)) == .acquire)
        #expect(lease.acquireFailed(sentAt: at(0)) == .wait(until: at(1)))
        #expect(lease.tick(now: at(0.2)) == .wait(until: at(1)))
        #expect(lease.tick(now: at(1)) == .acquire)
    }
}
