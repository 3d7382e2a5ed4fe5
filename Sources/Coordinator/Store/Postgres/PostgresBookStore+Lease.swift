import Foundation
import PostgresNIO

/// The lease a write must hold: the coordinator's name and the epoch it was granted.
struct LeaseFence: Sendable, Equatable {
    var holder: String
    var epoch: Int64
    /// How long a write's transaction may sit idle before the server ends it (and its lock on
    /// the lease row, which a takeover waits for): the lease's length.
    var idleLimit: Duration = .seconds(5)
}

/// A write by a coordinator whose lease another now holds (or that has run out): refused by the
/// database, so two coordinators can never both accept results.
struct CoordinatorDeposed: Error, CustomStringConvertible {
    var epoch: Int64
    var description: String { "this coordinator's lease (epoch \(epoch)) is no longer held" }
}

/// The active-coordinator lease, one row of `coordinator_lease` (holder, epoch, expiry). Expiry
/// is the database's clock, so the coordinators' clocks need not agree; `LeaseState` decides when
/// to call these.
extension PostgresBookStore {
    /// The lease for `holder` if it is free or expired, under a new epoch; nil while another
    /// holds it. A holder that restarts waits for its own old lease to run out like anyone.
    nonisolated(nonsending) func acquireLease(holder: String, duration: Duration) async throws -> Int64? {
        let seconds = Self.seconds(duration)
        let rows = try await client.query(
            """
            INSERT INTO coordinator_lease AS l (id, holder, epoch, expires_at)
                VALUES (1, \(holder), 1, now() + make_interval(secs => \(seconds)))
            ON CONFLICT (id) DO UPDATE SET holder = excluded.holder, epoch = l.epoch + 1,
                expires_at = excluded.expires_at
                WHERE l.expires_at <= now()
            RETURNING epoch
            """, logger: logger)
        return try await firstValue(rows, Int64.self)
    }

    /// Extends the lease `holder` holds under `epoch`; false when it no longer does.
    nonisolated(nonsending) func renewLease(holder: String, epoch: Int64, duration: Duration) async throws -> Bool {
        let seconds = Self.seconds(duration)
        let rows = try await client.query(
            """
            UPDATE coordinator_lease SET expires_at = now() + make_interval(secs => \(seconds))
            WHERE id = 1 AND holder = \(holder) AND epoch = \(epoch) AND expires_at > now()
            RETURNING 1
            """, logger: logger)
        return try await firstValue(rows, Int.self) != nil
    }

    /// Ends the lease `holder` holds under `epoch` now (a clean shutdown), so a standby need not
    /// wait for it to run out; false when it was not held.
    nonisolated(nonsending) func releaseLease(holder: String, epoch: Int64) async throws -> Bool {
        let rows = try await client.query(
            """
            UPDATE coordinator_lease SET expires_at = now()
            WHERE id = 1 AND holder = \(holder) AND epoch = \(epoch) AND expires_at > now()
            RETURNING 1
            """, logger: logger)
        return try await firstValue(rows, Int.self) != nil
    }

    /// Who holds the lease, under which epoch, until when (by the database's clock).
    nonisolated(nonsending) func leaseHolder() async throws -> (holder: String, epoch: Int64, expires: Date)? {
        let rows = try await client.query(
            "SELECT holder, epoch, expires_at FROM coordinator_lease WHERE id = 1", logger: logger)
        for try await (holder, epoch, expires) in rows.decode((String, Int64, Date).self) {
            return (holder, epoch, expires)
        }
        return nil
    }

    /// From now on every write must hold this lease (nil: none required).
    func fenceWrites(_ lease: LeaseFence?) {
        fence.withLock { $0 = lease }
    }

    private static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
