@testable import ClusterTransport

/// A cluster of `SWIMDetector`s on a simulated network: virtual time, messages delivered after a
/// millisecond or few, nodes that can be paused (their messages wait, as in a kernel buffer) or
/// killed (their messages are lost). Deterministic for a seed, and fast enough for hundreds of
/// nodes, so the protocol's figures at scale are checked without sockets.
struct SWIMSimulation {
    typealias Detector = SWIMDetector<SplitMix>

    private enum Event {
        case tick(String)
        case deliver(Detector.Message, from: String, to: String)
    }

    let start = ContinuousClock.now
    let settings: Detector.Settings
    private(set) var now: Duration = .zero
    private(set) var nodes: [String: Detector] = [:]
    private var queue = EventQueue<Event>()
    private var random: SplitMix
    private var dead: Set<String> = []
    private var pausedUntil: [String: Duration] = [:]
    /// Messages each node has sent.
    private(set) var sent: [String: Int] = [:]
    /// Every `down` verdict: who reached it, about whom, when.
    private(set) var downVerdicts: [(observer: String, subject: String, at: Duration)] = []

    init(size: Int, settings: Detector.Settings = .init(), seed: UInt64 = 7) {
        self.settings = settings
        random = SplitMix(seed: seed)
        guard size > 0 else { return }
        let names = (0..<size).map { "n\($0)" }
        for (index, name) in names.enumerated() {
            var detector = Detector(
                name: name, settings: settings, random: SplitMix(seed: seed &+ UInt64(index) &* 977))
            for other in names where other != name { _ = detector.add(other, announce: false, now: start) }
            nodes[name] = detector
            // Periods start at different moments on different nodes.
            schedule(.tick(name), after: .milliseconds(Int64.random(in: 0..<500, using: &random)))
        }
    }

    var names: [String] { nodes.keys.sorted() }

    /// A node that knows only `seed`, as one joining the cluster does.
    mutating func join(_ name: String, through seed: String) {
        var detector = Detector(name: name, settings: settings, random: SplitMix(seed: UInt64(nodes.count) &* 7919))
        _ = detector.add(seed, now: start + now)
        nodes[name] = detector
        schedule(.tick(name), after: .zero)
    }

    /// A node that joins as `ClusterSystem` makes it: its seed hands it the live members it knows
    /// (taken without being gossiped on) and learns of it in the same handshake, which it gossips.
    mutating func joinWithMemberList(_ name: String, through seed: String) {
        var detector = Detector(name: name, settings: settings, random: SplitMix(seed: UInt64(nodes.count) &* 7919))
        let at = start + now
        _ = detector.add(seed, now: at)
        for (member, update) in nodes[seed]!.members where update.status != .down && member != name {
            _ = detector.add(member, incarnation: update.incarnation, announce: false, now: at)
        }
        perform(seed, nodes[seed]!.add(name, now: at))
        nodes[name] = detector
        schedule(.tick(name), after: .zero)
    }

    /// A node with no member yet: the first of a cluster forming.
    mutating func startAlone(_ name: String) {
        nodes[name] = Detector(name: name, settings: settings, random: SplitMix(seed: UInt64(nodes.count) &* 7919))
        schedule(.tick(name), after: .zero)
    }

    mutating func kill(_ name: String) { dead.insert(name) }

    mutating func pause(_ name: String, for duration: Duration) { pausedUntil[name] = now + duration }

    /// Runs the network for `duration` of virtual time.
    mutating func run(for duration: Duration) {
        let end = now + duration
        while let next = queue.peekTime, next <= end {
            let (time, event) = queue.pop()!
            now = time
            switch event {
            case .tick(let name):
                guard !dead.contains(name) else { continue }
                if let until = pausedUntil[name], until > now {
                    schedule(.tick(name), after: until - now)  // its loop resumes when it does
                    continue
                }
                perform(name, nodes[name]!.tick(now: start + now))
                schedule(.tick(name), after: settings.probeInterval)
            case .deliver(let message, let from, let to):
                guard !dead.contains(to), nodes[to] != nil else { continue }
                if let until = pausedUntil[to], until > now {
                    schedule(.deliver(message, from: from, to: to), after: until - now)
                    continue
                }
                perform(to, nodes[to]!.receive(message, from: from, now: start + now))
            }
        }
        now = end
    }

    /// How many nodes (not dead) hold `subject` in `status`.
    func count(_ subject: String, _ status: Detector.Status) -> Int {
        nodes.filter { $0.key != subject && !dead.contains($0.key) && $0.value.members[subject]?.status == status }
            .count
    }

    /// Runs until `condition` holds (checked every 50 ms of virtual time); the time it took, nil
    /// if it did not within `limit`.
    mutating func time(within limit: Duration, until condition: (SWIMSimulation) -> Bool) -> Duration? {
        let began = now
        while now - began < limit {
            if condition(self) { return now - began }
            run(for: .milliseconds(50))
        }
        return condition(self) ? now - began : nil
    }

    private mutating func perform(_ node: String, _ actions: [Detector.Action]) {
        for action in actions {
            switch action {
            case .send(let message, let to):
                sent[node, default: 0] += 1
                schedule(
                    .deliver(message, from: node, to: to),
                    after: .microseconds(Int64.random(in: 500...3000, using: &random)))
            case .changed(let update):
                if update.status == .down { downVerdicts.append((node, update.name, now)) }
            case .forgotten:
                break
            }
        }
    }

    private mutating func schedule(_ event: Event, after delay: Duration) {
        queue.push(event, at: now + delay)
    }
}

/// A binary min-heap of events by time; events at the same time keep their order.
struct EventQueue<Element> {
    private var heap: [(time: Duration, order: Int, element: Element)] = []
    private var counter = 0

    var peekTime: Duration? { heap.first?.time }

    mutating func push(_ element: Element, at time: Duration) {
        counter += 1
        heap.append((time, counter, element))
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard Self.before(heap[child], heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (Duration, Element)? {
        guard !heap.isEmpty else { return nil }
        heap.swapAt(0, heap.count - 1)
        let top = heap.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < heap.count, Self.before(heap[left], heap[smallest]) { smallest = left }
            if right < heap.count, Self.before(heap[right], heap[smallest]) { smallest = right }
            guard smallest != parent else { break }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
        return (top.time, top.element)
    }

    private static func before(
        _ a: (time: Duration, order: Int, element: Element), _ b: (time: Duration, order: Int, element: Element)
    ) -> Bool {
        a.time < b.time || (a.time == b.time && a.order < b.order)
    }
}
