import Foundation

/// Who is in the cluster, as this node sees it: a pure state machine.
///
/// Events come in (a peer identified, a pong heard, a peer's node state, a connection closed, a
/// heartbeat tick) and the machine answers with its new state and the actions the caller must
/// carry out: dial, ping, close. It does no I/O and takes no lock, so the `ClusterSystem` runs it
/// under its lock and performs the actions after letting go (closing a channel runs
/// `channelInactive`, which takes the lock again), and tests drive it with plain objects and a
/// clock of their own.
///
/// Rules it keeps:
/// - `down` is this node's own opinion of a peer's silence; it is never taken from gossip, and a
///   peer heard again is `up` again.
/// - A node may announce only its own leaving.
/// - A peer's node state only moves forward in version, per incarnation; a new incarnation starts
///   from nothing.
/// - Registrations are kept only under keys the peer's certified role may hold.
///
/// With SWIM (`judgesSilence` false) statuses are the `SWIMDetector`'s verdicts, given in through
/// `verdict(_:…)`: this machine then only keeps the links, dials the seeds until the node has
/// joined, and no longer takes a closed connection (closed when idle) for a sign of trouble.
struct Membership<Connection: AnyObject> {
    typealias Record = MemberRecord<Connection>

    struct Timing {
        var heartbeatInterval: Duration
        var failureTimeout: Duration
        var suspectTimeout: Duration
        var maximumReconnectBackoff: Duration
    }

    /// A `--join HOST:PORT` seed, dialled by address until it answers.
    struct JoinSeed {
        var host: String
        var port: Int
        var connecting = false
        var isJoined = false
        var retryAt: ContinuousClock.Instant
        var backoff: Duration
        var lastError: String?
    }

    /// A dial the caller must start; `name` nil for a join seed (by address only).
    struct Dial: Equatable {
        var name: String?
        var host: String
        var port: Int
        var seedIndex: Int?
    }

    /// What one heartbeat asks of the caller.
    struct Tick {
        var dials: [Dial] = []
        var pings: [(Connection, Ping)] = []
        var closing: [Connection] = []
        /// Peers that went `down` now, for the log.
        var downed: [String] = []
    }

    /// How a call to a node gets its connection.
    enum Route {
        case ready(Connection)
        /// A dial is under way: wait for it.
        case wait
        /// Nothing yet: the caller dials (the record is now `connecting`).
        case dial(host: String, port: Int)
        case failure(ClusterError)
    }

    let localName: String
    let timing: Timing
    /// Full mesh: a peer's status follows its silence. SWIM: the detector decides.
    let judgesSilence: Bool
    /// Receptionist key → roles that may hold it (a key not listed is open).
    let registrationRoles: [String: Set<String>]
    private(set) var records: [String: Record] = [:]
    /// Each member's status, kept beside the records so a reader need not copy them.
    private(set) var statuses: [String: MemberStatus] = [:]
    /// Moves whenever a member appears, goes, or changes status, incarnation or role: what the
    /// member list shows. Publishing compares it instead of rebuilding the list at every event.
    private(set) var revision: UInt64 = 0
    /// Records with a connection open (dialled by this node).
    private(set) var connectedCount = 0
    private(set) var joinSeeds: [JoinSeed] = []
    /// Name → incarnation of the peers this node last vouched for in its own node state.
    private var vouchedFor: [String: UInt64] = [:]

    init(
        localName: String, timing: Timing, registrationRoles: [String: Set<String>] = [:], judgesSilence: Bool = true
    ) {
        self.localName = localName
        self.timing = timing
        self.registrationRoles = registrationRoles
        self.judgesSilence = judgesSilence
    }

    // MARK: Seeds

    mutating func addSeed(name: String?, host: String, port: Int, now: ContinuousClock.Instant) {
        if let name {
            guard name != localName else { return }
            store(
                Record(
                    name: name, role: "", host: host, port: port, incarnation: nil, isSeed: true, now: now,
                    backoff: timing.heartbeatInterval))
        } else {
            joinSeeds.append(JoinSeed(host: host, port: port, retryAt: now, backoff: timing.heartbeatInterval))
        }
    }

    // MARK: Events

    /// The route for a call to `target`, starting a dial when there is none.
    mutating func route(to target: ClusterNode, now: ContinuousClock.Instant) -> Route {
        var record =
            records[target.name]
            ?? Record(
                name: target.name, role: "", host: target.host, port: target.port, incarnation: nil, isSeed: false,
                now: now, backoff: timing.heartbeatInterval)
        defer { store(record) }
        if let incarnation = record.incarnation, incarnation != target.incarnation {
            return .failure(.actorGone("node \(target.name) has restarted since this actor reference was made"))
        }
        switch record.link {
        case .connected(let connection):
            return .ready(connection)
        case .connecting:
            return .wait
        case .idle:
            if now < record.retryAt, let lastError = record.lastError {
                return .failure(.unreachable(node: target.name, reason: lastError))
            }
            record.link = .connecting
            return .dial(host: record.host, port: record.port)
        }
    }

    /// A connection this node dialled has proved who is at the other end. Returns whether to keep
    /// it (two dials may race: the first stays) and an older incarnation's connection to close.
    mutating func dialSucceeded(
        _ connection: Connection, hello: Hello, seedIndex: Int?, now: ContinuousClock.Instant
    ) -> (keep: Bool, stale: Connection?) {
        if let seedIndex, joinSeeds.indices.contains(seedIndex) {
            joinSeeds[seedIndex].connecting = false
            joinSeeds[seedIndex].isJoined = true
        }
        let name = hello.node.name
        guard name != localName else { return (false, nil) }
        var record =
            records[name]
            ?? Record(
                name: name, role: hello.role, host: hello.node.host, port: hello.node.port, incarnation: nil,
                isSeed: seedIndex != nil, now: now, backoff: timing.heartbeatInterval)
        if seedIndex != nil { record.isSeed = true }
        if let existing = record.connection, existing !== connection { return (false, nil) }
        let stale = adopt(hello, into: &record, now: now)
        record.link = .connected(connection)
        record.backoff = timing.heartbeatInterval
        record.lastError = nil
        // Connected and just heard: up now, not at the next tick.
        heard(&record, now: now)
        store(record)
        return (true, stale)
    }

    /// A dial failed; returns whether this failure is news (for the log).
    mutating func dialFailed(name: String?, seedIndex: Int?, message: String, now: ContinuousClock.Instant) -> Bool {
        if let seedIndex, joinSeeds.indices.contains(seedIndex) {
            var seed = joinSeeds[seedIndex]
            let first = seed.lastError == nil
            seed.connecting = false
            seed.lastError = message
            seed.retryAt = now + seed.backoff
            seed.backoff = min(seed.backoff * 2, timing.maximumReconnectBackoff)
            joinSeeds[seedIndex] = seed
            return first
        }
        guard let name, var record = records[name] else { return false }
        if record.isConnecting { record.link = .idle }
        let first = record.lastError != message
        record.lastError = message
        record.retryAt = now + record.backoff
        record.backoff = min(record.backoff * 2, timing.maximumReconnectBackoff)
        store(record)
        return first
    }

    /// A peer dialled this node and proved who it is. Returns an older incarnation's connection to
    /// close.
    mutating func accepted(_ hello: Hello, now: ContinuousClock.Instant) -> Connection? {
        let name = hello.node.name
        guard name != localName else { return nil }
        var record =
            records[name]
            ?? Record(
                name: name, role: hello.role, host: hello.node.host, port: hello.node.port, incarnation: nil,
                isSeed: false, now: now, backoff: timing.heartbeatInterval)
        let stale = adopt(hello, into: &record, now: now)
        if case .idle = record.link { record.retryAt = now }
        store(record)
        return stale
    }

    /// A pong (or anything else) from the current incarnation of `name`.
    mutating func heard(from name: String, incarnation: UInt64, now: ContinuousClock.Instant) {
        guard var record = records[name], record.incarnation == incarnation else { return }
        heard(&record, now: now)
        store(record)
    }

    /// A peer's own node state: its registrations, and the nodes it vouches for. Returns the keys
    /// refused for the first time (for the log).
    @discardableResult
    mutating func apply(_ state: NodeState, from name: String, incarnation: UInt64, now: ContinuousClock.Instant)
        -> [String]
    {
        guard var record = records[name], record.incarnation == incarnation else { return [] }
        // Versions only move forward: an old state arriving late must not undo a newer one.
        guard state.version >= record.stateVersion else { return [] }
        var registrations = state.registrations
        var refusedNow: [String] = []
        for key in Array(registrations.keys) {
            if let roles = registrationRoles[key], !roles.contains(record.role) {
                registrations[key] = nil
                if record.refusedKeys.insert(key).inserted { refusedNow.append(key) }
            }
        }
        record.registrations = registrations
        record.stateVersion = state.version
        store(record)
        // Nodes it knows and this node does not: dialled to find out. Gossip says only that a
        // node exists, never that one is down or what it may do (that comes from its certificate).
        for known in state.members
        where judgesSilence && known.node.name != localName && records[known.node.name] == nil {
            store(
                Record(
                    name: known.node.name, role: known.role, host: known.node.host, port: known.node.port,
                    incarnation: nil, isSeed: false, now: now, backoff: timing.heartbeatInterval))
        }
        return refusedNow
    }

    /// `node` announced, over `peer`'s connection, that it is leaving. Only a node's own word
    /// counts; returns the connection to close when it does.
    mutating func leaving(_ node: ClusterNode, announcedBy peer: ClusterNode, now: ContinuousClock.Instant)
        -> (accepted: Bool, close: Connection?)
    {
        guard node == peer, var record = records[node.name], record.incarnation == node.incarnation else {
            return (false, nil)
        }
        let connection = record.connection
        if record.isSeed {
            record.registrations = [:]
            record.status = .down
            record.statusSince = now
            record.lastHeartbeat = nil
            record.firstSeen = now - timing.failureTimeout
            record.link = .idle
            record.retryAt = now + timing.heartbeatInterval
            store(record)
        } else {
            remove(node.name)
        }
        return (true, connection)
    }

    /// This node's connection to `name` closed.
    mutating func connectionClosed(
        _ connection: Connection, to name: String, reason: String, now: ContinuousClock.Instant
    ) {
        guard var record = records[name], record.connection === connection else { return }
        record.link = .idle
        guard judgesSilence else {
            // Connections close when idle: the next call dials again at once. Whether the peer is
            // there is the detector's call.
            store(record)
            return
        }
        record.lastError = reason
        record.retryAt = now + record.backoff
        if judgesSilence, record.status == .up {
            record.status = .suspect
            record.statusSince = now
        }
        store(record)
    }

    /// One heartbeat: judge everyone by their silence, ping the connected, dial the due. With SWIM
    /// (`judgesSilence` false) statuses are left alone and only seeds are dialled: a named seed
    /// while `dialsSeed` says so (the detector has not heard of it: nodes that found each other
    /// first must not stay an island), a join seed while `dialsJoinSeeds` (no live member yet). The
    /// caller keeps or closes the links it returns pings for.
    mutating func tick(
        now: ContinuousClock.Instant, dialsSeed: (String) -> Bool = { _ in true }, dialsJoinSeeds: Bool = true
    ) -> Tick {
        var tick = Tick()
        guard judgesSilence else {
            // SWIM: no status to judge. Down members are forgotten in time, links are offered for
            // a ping (the caller keeps or closes them), one seed may be dialled. Records are
            // visited in place: copying each of hundreds every heartbeat was a tenth of the CPU.
            let forgetAfter = timing.failureTimeout * 3
            var forgotten: [String] = []
            for index in records.values.indices {
                Self.offerPing(
                    &records.values[index], now: now, forgetAfter: forgetAfter, forgotten: &forgotten, into: &tick)
            }
            for name in forgotten { remove(name) }
            dialOneSeed(now: now, dialsSeed: dialsSeed, dialsJoinSeeds: dialsJoinSeeds, into: &tick)
            return tick
        }
        for name in Array(records.keys) {
            guard var record = records[name] else { continue }
            let silence = now - (record.lastHeartbeat ?? record.firstSeen)
            let status: MemberStatus =
                !judgesSilence
                ? record.status
                : silence >= timing.failureTimeout
                    ? .down
                    : (record.connection == nil || silence >= timing.suspectTimeout ? .suspect : .up)
            if status != record.status {
                if status == .down {
                    tick.downed.append(name)
                    // A silent connection may still look open; closing it fails its calls now.
                    if let connection = record.connection {
                        tick.closing.append(connection)
                        record.link = .idle
                    }
                }
                record.status = status
                record.statusSince = now
            }
            if !record.isSeed, record.status == .down, now - record.statusSince >= timing.failureTimeout * 3 {
                remove(name)
                continue
            }
            switch record.link {
            case .connected(let connection):
                record.pingSequence += 1
                tick.pings.append(
                    (connection, Ping(sequence: record.pingSequence, knownStateVersion: record.stateVersion)))
            case .idle where now >= record.retryAt:
                record.link = .connecting
                tick.dials.append(Dial(name: name, host: record.host, port: record.port))
            case .idle, .connecting:
                break
            }
            store(record)
        }
        for index in joinSeeds.indices {
            let seed = joinSeeds[index]
            guard !seed.isJoined, !seed.connecting, now >= seed.retryAt else { continue }
            joinSeeds[index].connecting = true
            tick.dials.append(Dial(name: nil, host: seed.host, port: seed.port, seedIndex: index))
        }
        return tick
    }

    /// SWIM: one seed a heartbeat, picked at random (so a cluster starting at once does not all dial
    /// the same one); the members come with its node state, so most seeds are known before their turn.
    private mutating func dialOneSeed(
        now: ContinuousClock.Instant, dialsSeed: (String) -> Bool, dialsJoinSeeds: Bool, into tick: inout Tick
    ) {
        if records.values.contains(where: { $0.isSeed && $0.isConnecting })
            || joinSeeds.contains(where: \.connecting)
        {
            return
        }
        let named = records.values.filter { record in
            guard record.isSeed, record.connection == nil, now >= record.retryAt, case .idle = record.link else {
                return false
            }
            return dialsSeed(record.name)
        }.map(\.name)
        let joins = dialsJoinSeeds ? joinSeeds.indices.filter { now >= joinSeeds[$0].retryAt } : []
        let choice = Int.random(in: 0..<max(named.count + joins.count, 1))
        if choice < named.count, var record = records[named[choice]] {
            record.link = .connecting
            store(record)
            tick.dials.append(Dial(name: record.name, host: record.host, port: record.port))
        } else if choice - named.count < joins.count {
            let index = joins[choice - named.count]
            joinSeeds[index].connecting = true
            tick.dials.append(
                Dial(name: nil, host: joinSeeds[index].host, port: joinSeeds[index].port, seedIndex: index))
        }
    }

    /// The SWIM detector's verdict on `node` (named by gossip or met directly): the member is
    /// recorded (a new process under a known name starts from nothing) and takes the status.
    /// Returns a connection to close: the old process's, or a `down` member's.
    mutating func verdict(
        _ status: MemberStatus, node: ClusterNode, role: String, now: ContinuousClock.Instant
    ) -> Connection? {
        guard node.name != localName, records[node.name] != nil || status != .down else { return nil }
        var record =
            records[node.name]
            ?? Record(
                name: node.name, role: role, host: node.host, port: node.port, incarnation: node.incarnation,
                isSeed: false, now: now, backoff: timing.heartbeatInterval)
        var closing: Connection?
        if record.incarnation != node.incarnation {
            if status == .down, record.incarnation != nil { return nil }  // about a process already gone
            record.registrations = [:]
            record.refusedKeys = []
            record.stateVersion = 0
            record.incarnation = node.incarnation
            record.host = node.host
            record.port = node.port
            record.role = role
            if let old = record.connection {
                closing = old
                record.link = .idle
            }
        }
        if status != record.status {
            record.status = status
            record.statusSince = now
        }
        if status == .down, let connection = record.connection {
            closing = connection
            record.link = .idle
        }
        store(record)
        return closing
    }

    /// A `down` member SWIM let go of (its place went to a new one): its record goes too, and the
    /// connection to close if one was left.
    mutating func forget(_ name: String) -> Connection? {
        guard let record = records[name], record.status == .down else { return nil }
        remove(name)
        return record.connection
    }

    // MARK: Storing

    private mutating func store(_ record: Record) {
        let old = records.updateValue(record, forKey: record.name)
        connectedCount += (record.connection != nil ? 1 : 0) - (old?.connection != nil ? 1 : 0)
        if old?.status != record.status || old?.incarnation != record.incarnation || old?.role != record.role {
            revision &+= 1
            statuses[record.name] = record.status
        }
    }

    private mutating func remove(_ name: String) {
        guard let old = records.removeValue(forKey: name) else { return }
        if old.connection != nil { connectedCount -= 1 }
        statuses[name] = nil
        revision &+= 1
    }

    // MARK: Reading

    /// Whether the set of peers this node vouches for (the `up` ones) changed since last asked:
    /// the node's own state version must then move, so peers pull it.
    mutating func vouchedForChanged() -> Bool {
        var reachable: [String: UInt64] = [:]
        for record in records.values where record.status == .up { reachable[record.name] = record.incarnation ?? 0 }
        guard reachable != vouchedFor else { return false }
        vouchedFor = reachable
        return true
    }

    /// The peers this node vouches for, as its node state lists them.
    var knownNodes: [NodeState.KnownNode] {
        records.values.compactMap { record in
            guard record.status == .up, let incarnation = record.incarnation else { return nil }
            return NodeState.KnownNode(
                node: ClusterNode(name: record.name, host: record.host, port: record.port, incarnation: incarnation),
                role: record.role)
        }
    }

    var connections: [Connection] { records.values.compactMap(\.connection) }

    private static func offerPing(
        _ record: inout Record, now: ContinuousClock.Instant, forgetAfter: Duration, forgotten: inout [String],
        into tick: inout Tick
    ) {
        if !record.isSeed, record.status == .down, now - record.statusSince >= forgetAfter {
            forgotten.append(record.name)
        } else if case .connected(let connection) = record.link {
            record.pingSequence += 1
            tick.pings.append((connection, Ping(sequence: record.pingSequence, knownStateVersion: record.stateVersion)))
        }
    }

    /// A member's status, without copying its record.
    func status(of name: String) -> MemberStatus? {
        guard let index = records.index(forKey: name) else { return nil }
        return records.values[index].status
    }

    func record(_ name: String) -> Record? { records[name] }

    // MARK: Rules

    /// Takes a peer's proven identity; a new incarnation means everything known of the old one is
    /// gone. Returns the old incarnation's connection for the caller to close.
    private func adopt(_ hello: Hello, into record: inout Record, now: ContinuousClock.Instant) -> Connection? {
        var stale: Connection?
        if record.incarnation != hello.node.incarnation {
            record.registrations = [:]
            record.refusedKeys = []
            record.stateVersion = 0
            if let old = record.connection {
                stale = old
                record.link = .idle
            }
        }
        record.incarnation = hello.node.incarnation
        record.role = hello.role
        record.host = hello.node.host
        record.port = hello.node.port
        heard(&record, now: now)
        return stale
    }

    private func heard(_ record: inout Record, now: ContinuousClock.Instant) {
        record.lastHeartbeat = now
        record.lastHeartbeatDate = Date()
        guard judgesSilence else { return }
        if record.status != .up, record.connection != nil || record.status == .down {
            record.status = record.connection != nil ? .up : .suspect
            record.statusSince = now
        }
    }
}

extension Membership.Tick: Sendable where Connection: Sendable {}
extension Membership.Dial: Sendable {}
