import ClusterTransport
import Foundation
import Logging

/// Makes this node the active coordinator while it holds the lease in PostgreSQL, and a standby
/// otherwise. Every coordinator node runs one; at most one of them holds the lease.
///
/// Holding the lease, it starts a `Coordinator` fenced to the lease's epoch and registers it under
/// `Coordinator.receptionKey`, so gateways route to it and only it hands out jobs. Losing the lease
/// (renewal refused, the database out of reach for the whole lease, or the process frozen past
/// it), it deregisters and stops that coordinator at once; what the stopped one still tries to
/// write is refused by the database. It then stands by and asks for the lease again like any
/// other standby.
public actor CoordinatorElection {
    let system: ClusterSystem
    let settings: CoordinatorSettings
    let logger: Logger
    let url: String
    var lease: LeaseState
    /// The lease queries only; each active term's coordinator has its own fenced store.
    let leaseStore: PostgresBookStore
    var active: (coordinator: Coordinator, epoch: Int64)?
    /// The active term's start (store preparation, recovery), run beside the renewals.
    var starting: Task<Void, Never>?

    public init(system: ClusterSystem, settings: CoordinatorSettings, leaseDuration: Duration, logger: Logger)
        throws
    {
        guard case .postgres(let url) = settings.store else {
            throw LectorError(
                status: 500, code: "no_lease_store", message: "Only the PostgreSQL store holds a coordinator lease.")
        }
        self.system = system
        self.settings = settings
        self.logger = logger
        self.url = url
        self.lease = LeaseState(duration: leaseDuration, renewEvery: leaseDuration / 3)
        self.leaseStore = try PostgresBookStore(url: url, logger: logger)
    }

    var holder: String { system.node.name }

    /// Runs until cancelled; on cancellation gives the lease up, so a standby need not wait for
    /// it to run out.
    public func run() async {
        logger.info("[LEASE] \(holder) stands by for the coordinator lease")
        var prepared = false
        while !Task.isCancelled {
            let now = ContinuousClock.now
            switch lease.tick(now: now) {
            case .wait(let until):
                try? await Task.sleep(until: until, clock: .continuous)
            case .acquire:
                do {
                    if !prepared {
                        try await leaseStore.prepare()
                        prepared = true
                    }
                    let store = leaseStore
                    let (holder, duration) = (self.holder, lease.duration)
                    let epoch = try await DatabaseTimeLimit.run(within: lease.duration / 2) {
                        try await store.acquireLease(holder: holder, duration: duration)
                    }
                    await perform(lease.acquired(epoch: epoch, sentAt: now))
                } catch {
                    logger.warning("[LEASE] cannot ask for the lease: \(error)")
                    await perform(lease.acquireFailed(sentAt: now))
                }
            case .renew(let epoch):
                let outcome: Bool?
                do {
                    let store = leaseStore
                    let (holder, duration) = (self.holder, lease.duration)
                    outcome = try await DatabaseTimeLimit.run(within: lease.duration / 2) {
                        try await store.renewLease(holder: holder, epoch: epoch, duration: duration)
                    }
                } catch {
                    logger.warning("[LEASE] cannot renew the lease of epoch \(epoch): \(error)")
                    outcome = nil
                }
                await perform(lease.renewed(outcome, sentAt: now))
            case let other:
                await perform(other)
            }
        }
        await resign()
        await leaseStore.close()
    }

    /// This node's coordinator while it is the active one.
    public var coordinator: Coordinator? { active?.coordinator }

    private func perform(_ action: LeaseState.Action) async {
        switch action {
        case .becomeActive(let epoch):
            logger.info(
                "[LEASE] \(holder) holds the coordinator lease, epoch \(epoch): becoming the active coordinator")
            starting = Task { await self.activate(epoch: epoch) }
        case .stepDown(let reason):
            logger.warning("[LEASE] \(holder) steps down: \(reason); standing by")
            await deactivate()
        case .wait, .acquire, .renew:
            break
        }
    }

    private func activate(epoch: Int64) async {
        var settings = self.settings
        settings.lease = LeaseFence(holder: holder, epoch: epoch, idleLimit: lease.duration)
        do {
            // A path of its own each term: the last term's actor may still be winding down.
            let coordinator = try ClusterSystem.$actorPath.withValue("\(Coordinator.receptionKey)-\(epoch)") {
                try Coordinator(actorSystem: system, settings: settings, logger: logger)
            }
            try await coordinator.whenLocal { try await $0.start() }
            guard !Task.isCancelled, case .active(epoch) = lease.role else {
                await coordinator.whenLocal { await $0.stop() }
                return
            }
            active = (coordinator, epoch)
            system.receptionist.register(coordinator, key: Coordinator.receptionKey)
            logger.info("[LEASE] active coordinator under epoch \(epoch)")
        } catch {
            // Held but unusable (the database went away during recovery): renewals go on, and the
            // next term tries again once this one is given up.
            logger.error("[LEASE] cannot start the coordinator under epoch \(epoch): \(error); giving the lease up")
            lease.resign(now: .now)
            _ = try? await leaseStore.releaseLease(holder: holder, epoch: epoch)
        }
    }

    private func deactivate() async {
        starting?.cancel()
        starting = nil
        guard let (coordinator, epoch) = active else { return }
        active = nil
        system.receptionist.deregister(coordinator, key: Coordinator.receptionKey)
        // Its jobs out still answer for a while; what it then writes is refused (and logged).
        let logger = self.logger
        Task {
            await coordinator.whenLocal { await $0.stop(drain: .seconds(10)) }
            logger.info("[LEASE] the coordinator of epoch \(epoch) is stopped")
        }
    }

    private func resign() async {
        let epoch = active?.epoch
        await deactivate()
        if let epoch {
            _ = try? await leaseStore.releaseLease(holder: holder, epoch: epoch)
            logger.info("[LEASE] \(holder) gave the lease of epoch \(epoch) up")
        }
        lease.resign(now: .now)
    }
}
