import Foundation

/// A node's SWIM side: the detector, and the address and role of each member its gossip names
/// (the detector knows members by name only; the wire needs somewhere to dial).
///
/// Registrations are not gossiped themselves: gossip says which version of its node state a member
/// is at and under which keys it registered, and a node that looks those keys up pulls the
/// registrations from the member over the member's own certified connection. So a registration is
/// only ever believed from its owner, and only the nodes that care about a key pay for it.
struct SWIMState {
    typealias Detector = SWIMDetector<SystemRandomNumberGenerator>

    struct Entry {
        var node: ClusterNode
        var role: String
        /// The SWIM incarnation this entry was last named at: a higher one may move the member
        /// (a new process), a lower one is old news.
        var incarnation: UInt64
        var stateVersion: UInt64 = 0
        var keys: [String] = []
    }

    var detector: Detector
    private(set) var directory: [String: Entry]
    /// Pulls of a member's node state under way: the version asked for and when.
    var pulls: [String: (version: UInt64, at: ContinuousClock.Instant)] = [:]
    /// Members let go of to make room (`makeRoom`), for the system to forget as well.
    private(set) var forgotten: [String] = []
    private let local: String

    init(local: ClusterNode, role: String, settings: Detector.Settings, incarnation: UInt64) {
        self.local = local.name
        detector = Detector(
            name: local.name, incarnation: incarnation, settings: settings, random: SystemRandomNumberGenerator())
        directory = [local.name: Entry(node: local, role: role, incarnation: incarnation)]
    }

    /// A process proven over its own connection (its handshake checked the certificate).
    mutating func met(_ node: ClusterNode, role: String, incarnation: UInt64?) {
        guard node.name != local else { return }
        let known = directory[node.name]
        guard known != nil || directory.count < detector.settings.maxMembers || makeRoom() else { return }
        var entry = known ?? Entry(node: node, role: role, incarnation: incarnation ?? 0)
        if entry.node != node {
            entry = Entry(node: node, role: role, incarnation: max(incarnation ?? 0, entry.incarnation))
        }
        entry.incarnation = max(incarnation ?? 0, entry.incarnation)
        entry.role = role
        directory[node.name] = entry
    }

    /// A member named by gossip: taken unless what is known of it is newer, or its incarnation is
    /// beyond the clock's (made up: held, it would pin a wrong address no true gossip could
    /// replace), or it would move a member whose process this node is connected to (`connected`:
    /// that process proved itself in its handshake and answers there, and a wrong address gossiped
    /// at a plausible incarnation would turn this node's probes away from it; a new process of the
    /// member is met when it connects, and gossip of it is taken once the old connection closes).
    /// Returns whether it told anything new.
    @discardableResult
    mutating func heardOf(
        _ gossip: SWIMPacket.Gossip, now: ContinuousClock.Instant, connected: Set<ClusterNode> = []
    ) -> Bool {
        guard gossip.node.name != local, gossip.incarnation <= detector.incarnationCeiling(at: now) else {
            return false
        }
        if let known = directory[gossip.node.name] {
            guard
                gossip.incarnation > known.incarnation
                    || (gossip.incarnation == known.incarnation && gossip.node == known.node
                        && gossip.stateVersion > known.stateVersion)
            else { return false }
            if gossip.node != known.node, connected.contains(known.node) { return false }
        } else if directory.count >= detector.settings.maxMembers, !makeRoom() {
            return false
        }
        directory[gossip.node.name] = Entry(
            node: gossip.node, role: gossip.role, incarnation: gossip.incarnation, stateVersion: gossip.stateVersion,
            keys: gossip.keys)
        return true
    }

    /// Room in a full directory: the member `down` longest goes, from the detector too. False when
    /// every member is live (a new name is then not taken).
    private mutating func makeRoom() -> Bool {
        guard let name = detector.longestDown() else { return false }
        forget(name)
        return true
    }

    /// Lets go of a member the detector has forgotten or is to forget (`down` only).
    mutating func forget(_ name: String) {
        detector.forget(name)
        guard detector.members[name] == nil, directory.removeValue(forKey: name) != nil else { return }
        pulls[name] = nil
        forgotten.append(name)
    }

    /// Whether some entry of `packet` names a known member at another process: only then is the
    /// set of connected processes (`heardOf`'s `connected`) worth building for it.
    func wouldMove(_ packet: SWIMPacket) -> Bool {
        packet.gossip.contains { gossip in directory[gossip.node.name].map { $0.node != gossip.node } ?? false }
    }

    /// The members let go of since last asked.
    mutating func takeForgotten() -> [String] {
        defer { forgotten = [] }
        return forgotten
    }

    /// This node's registrations changed: its entry says so, and a new incarnation spreads it.
    mutating func republish(stateVersion: UInt64, keys: [String]) {
        detector.announce()
        directory[local]?.stateVersion = stateVersion
        // Only what the wire allows: a longer key is not announced (peers would refuse the packet).
        directory[local]?.keys = Array(
            keys.filter { $0.utf8.count <= SWIMPacket.maximumKeyLength }.prefix(SWIMPacket.maximumKeys))
        directory[local]?.incarnation = detector.incarnation
    }

    /// The detector's message as it goes on the wire; updates about members with no known address
    /// are left out (none should be: the detector hears of members only through this type).
    func packet(for message: Detector.Message) -> SWIMPacket {
        switch message {
        case .ping(let sequence, let updates):
            SWIMPacket(kind: .ping, sequence: sequence, gossip: gossip(updates))
        case .ack(let sequence, let updates):
            SWIMPacket(kind: .ack, sequence: sequence, gossip: gossip(updates))
        case .pingRequest(let sequence, let target, let updates):
            SWIMPacket(kind: .pingRequest, sequence: sequence, target: target, gossip: gossip(updates))
        case .sync(let updates, let replyWanted):
            SWIMPacket(kind: replyWanted ? .sync : .syncReply, sequence: 0, gossip: gossip(updates, sync: true))
        }
    }

    private func gossip(_ updates: [Detector.Update], sync: Bool = false) -> [SWIMPacket.Gossip] {
        updates.prefix(sync ? SWIMPacket.maximumSyncEntries : SWIMPacket.maximumGossip).compactMap { update in
            guard let entry = directory[update.name] else { return nil }
            return SWIMPacket.Gossip(
                node: entry.node, role: entry.role, incarnation: update.incarnation,
                status: UInt8(update.status.rawValue), stateVersion: entry.stateVersion, keys: entry.keys)
        }
    }

    /// Takes a packet's addresses in and gives the detector's message (nil when malformed), and the
    /// members whose entries changed.
    mutating func message(
        from packet: SWIMPacket, now: ContinuousClock.Instant, connected: Set<ClusterNode> = []
    ) -> (Detector.Message, news: [String])? {
        var updates: [Detector.Update] = []
        var news: [String] = []
        let bound = packet.kind.isSync ? SWIMPacket.maximumSyncEntries : detector.settings.maxPiggyback
        for entry in packet.gossip.prefix(bound) {
            guard let status = Detector.Status(rawValue: Int(entry.status)) else { return nil }
            if heardOf(entry, now: now, connected: connected) { news.append(entry.node.name) }
            updates.append(.init(name: entry.node.name, incarnation: entry.incarnation, status: status))
        }
        guard let message = detectorMessage(packet, updates: updates) else { return nil }
        return (message, news)
    }

    private func detectorMessage(_ packet: SWIMPacket, updates: [Detector.Update]) -> Detector.Message? {
        switch packet.kind {
        case .ping: return .ping(sequence: packet.sequence, updates: updates)
        case .ack: return .ack(sequence: packet.sequence, updates: updates)
        case .pingRequest:
            guard !packet.target.isEmpty else { return nil }
            return .pingRequest(sequence: packet.sequence, target: packet.target, updates: updates)
        case .sync: return .sync(updates: updates, replyWanted: true)
        case .syncReply: return .sync(updates: updates, replyWanted: false)
        }
    }

    /// The live members with their addresses, as a node joining through this one gets them.
    var knownNodes: [NodeState.KnownNode] {
        detector.members.values.compactMap { update in
            guard update.status != .down, let entry = directory[update.name] else { return nil }
            return NodeState.KnownNode(
                node: entry.node, role: entry.role, swimIncarnation: update.incarnation,
                stateVersion: entry.stateVersion, keys: entry.keys)
        }
    }

    /// Members whose registrations this node should pull: their gossiped state is newer than the
    /// one `held` says this node has, and they hold (or held) a key this node looks up. A pull
    /// already asked for is asked again only after `retryAfter`.
    mutating func pullsDue(
        among names: some Sequence<String>, interests: Set<String>, now: ContinuousClock.Instant,
        retryAfter: Duration, held: (String) -> (version: UInt64, keys: [String])?
    ) -> [(ClusterNode, UInt64)] {
        var due: [(ClusterNode, UInt64)] = []
        for name in names {
            guard name != local, let entry = directory[name], detector.members[name]?.status != .down else { continue }
            let mine = held(name)
            let version = mine?.version ?? 0
            guard entry.stateVersion > version else {
                pulls[name] = nil  // what was asked for has arrived
                continue
            }
            guard !interests.isDisjoint(with: entry.keys) || !interests.isDisjoint(with: mine?.keys ?? []) else {
                continue
            }
            if let asked = pulls[name], asked.version >= entry.stateVersion, now - asked.at < retryAfter { continue }
            pulls[name] = (entry.stateVersion, now)
            due.append((entry.node, version))
        }
        return due
    }

    /// Whether this node knows any member not `down`: until then it keeps dialling its seeds.
    var hasLiveMember: Bool {
        detector.members.values.contains { $0.status != .down }
    }
}
