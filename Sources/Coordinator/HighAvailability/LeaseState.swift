/// One coordinator's view of the active-coordinator lease, as a pure state machine: the clock and
/// the store's answers go in, what to do comes out. The lease itself lives in the database (holder,
/// epoch, expiry); this decides when to ask for it, when to renew it, and when to stop acting on
/// it.
///
/// Safety does not rest on this alone (every write is also fenced by the database, see
/// `PostgresLease`), but it keeps a coordinator from acting on a lease it may have lost: it steps
/// down once `duration` has passed since the last renewal it *sent* that succeeded, which is no
/// later than the database's own expiry of that renewal.
struct LeaseState: Equatable {
    enum Role: Equatable {
        case standby
        case active(epoch: Int64)
    }

    enum Action: Equatable {
        /// Ask the database for the lease (it is granted only if free or expired).
        case acquire
        /// Extend the lease held under `epoch`.
        case renew(epoch: Int64)
        /// Nothing before `until`.
        case wait(until: ContinuousClock.Instant)
        /// Start acting as the coordinator under `epoch`.
        case becomeActive(epoch: Int64)
        /// Stop acting as the coordinator at once, and say why.
        case stepDown(reason: String)
    }

    let duration: Duration
    let renewEvery: Duration
    private(set) var role: Role = .standby
    /// When the lease may end, by this machine's clock: last good renewal sent + `duration`.
    private(set) var validUntil: ContinuousClock.Instant?
    private var nextAttempt: ContinuousClock.Instant?

    /// `renewEvery` well under `duration` (a third is usual), so a renewal or two can fail and be
    /// retried before the lease runs out.
    init(duration: Duration, renewEvery: Duration) {
        precondition(renewEvery < duration, "a lease must be renewed before it ends")
        self.duration = duration
        self.renewEvery = renewEvery
    }

    /// What to do now.
    mutating func tick(now: ContinuousClock.Instant) -> Action {
        switch role {
        case .standby:
            if let nextAttempt, now < nextAttempt { return .wait(until: nextAttempt) }
            return .acquire
        case .active(let epoch):
            if let validUntil, now >= validUntil { return stepDown("the lease ran out before it could be renewed") }
            if let nextAttempt, now < nextAttempt { return .wait(until: min(nextAttempt, validUntil ?? nextAttempt)) }
            return .renew(epoch: epoch)
        }
    }

    /// The answer to `acquire`, sent at `sentAt`: the new epoch, or nil when another holds it.
    mutating func acquired(epoch: Int64?, sentAt: ContinuousClock.Instant) -> Action {
        guard case .standby = role else { return .wait(until: nextAttempt ?? sentAt) }
        nextAttempt = sentAt + renewEvery
        guard let epoch else { return .wait(until: sentAt + renewEvery) }
        role = .active(epoch: epoch)
        validUntil = sentAt + duration
        return .becomeActive(epoch: epoch)
    }

    /// `acquire` could not reach the database: try again after `renewEvery`.
    mutating func acquireFailed(sentAt: ContinuousClock.Instant) -> Action {
        nextAttempt = sentAt + renewEvery
        return .wait(until: sentAt + renewEvery)
    }

    /// The answer to `renew`, sent at `sentAt`: true renewed, false the lease is another's now,
    /// nil the database could not be reached (retried until `validUntil`).
    mutating func renewed(_ outcome: Bool?, sentAt: ContinuousClock.Instant) -> Action {
        guard case .active = role else { return .wait(until: nextAttempt ?? sentAt) }
        switch outcome {
        case true?:
            validUntil = sentAt + duration
            nextAttempt = sentAt + renewEvery
            return .wait(until: sentAt + renewEvery)
        case false?:
            return stepDown("another coordinator holds the lease")
        case nil:
            if let validUntil, sentAt >= validUntil {
                return stepDown("the database could not be reached before the lease ran out")
            }
            // Sooner than a normal renewal: the lease is running out.
            let retry = sentAt + renewEvery / 4
            nextAttempt = retry
            return .wait(until: min(retry, validUntil ?? retry))
        }
    }

    /// Gives the lease up (shutting down, or it could not be used): stand by, and ask again no
    /// sooner than `renewEvery` from `now`.
    mutating func resign(now: ContinuousClock.Instant) {
        role = .standby
        validUntil = nil
        nextAttempt = now + renewEvery
    }

    private mutating func stepDown(_ reason: String) -> Action {
        role = .standby
        validUntil = nil
        nextAttempt = nil
        return .stepDown(reason: reason)
    }
}
