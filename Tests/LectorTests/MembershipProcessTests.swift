import Foundation
import Testing

/// Membership across 20 real `lector` processes, with each protocol: a node killed ends `down` in
/// every other node's view, and a node stopped for less than the failure timeout ends `down` in none.
@Suite(.serialized) struct MembershipProcessTests {
    /// The names each node's log says it saw come `up`, and saw go `down`.
    static func verdicts(in log: String) -> (up: Set<String>, down: Set<String>) {
        var up: Set<String> = []
        var down: Set<String> = []
        for match in log.matches(of: /node (\S+) is (up|down)/) {
            if match.2 == "up" { up.insert(String(match.1)) } else { down.insert(String(match.1)) }
        }
        return (up, down)
    }

    @Test(arguments: ["full-mesh", "swim"])
    func ofTwentyNodesExactlyTheKilledOneEndsDownEverywhere(membership: String) async throws {
        let files = try TestClusterFiles(
            workers: 18, extra: "transport:\n  membership: \(membership)", heartbeat: "500ms", failureTimeout: "6s")
        try await files.makeCertificates()
        var started: [String: LectorProcess] = [:]
        started["coordinator"] = try files.start("coordinator", node: "coordinator")
        for index in 1...18 {
            started["worker-\(index)"] = try files.start("worker", node: "worker-\(index)")
        }
        started["gateway"] = try files.start("gateway", node: "gateway")
        let nodes = started
        defer {
            Task {
                for process in nodes.values {
                    kill(process.pid, SIGCONT)
                    await process.terminate()
                }
                files.remove()
            }
        }
        let names = Set(nodes.keys)
        #expect(names.count == 20)

        // Every node has seen every other `up` (its own log says so), not only the gateway.
        let formed = ContinuousClock.now + .seconds(120)
        var missing: [String: Int] = [:]
        repeat {
            missing = [:]
            for (name, process) in nodes {
                let seen = Self.verdicts(in: process.output).up
                let absent = names.subtracting(seen).subtracting([name]).count
                if absent > 0 { missing[name] = absent }
            }
            if missing.isEmpty { break }
            try await Task.sleep(for: .milliseconds(250))
        } while ContinuousClock.now < formed
        let worst = missing.max { $0.value < $1.value }?.key
        #expect(
            missing.isEmpty,
            "nodes that have not seen all the others up: \(missing)\n\(worst.map { nodes[$0]!.output.suffix(2000) } ?? "")"
        )

        // One node is starved of CPU for 2 s (a third of the failure timeout), one is killed.
        let sleeper = try #require(nodes["worker-2"])
        kill(sleeper.pid, SIGSTOP)
        try await Task.sleep(for: .seconds(2))
        kill(sleeper.pid, SIGCONT)
        await nodes["worker-1"]!.kill9()
        let survivors = nodes.filter { $0.key != "worker-1" }

        let detected = ContinuousClock.now + .seconds(40)
        var unaware: [String] = []
        repeat {
            unaware = survivors.filter { !Self.verdicts(in: $0.value.output).down.contains("worker-1") }.map(\.key)
            if unaware.isEmpty { break }
            try await Task.sleep(for: .milliseconds(250))
        } while ContinuousClock.now < detected
        #expect(unaware.isEmpty, "nodes that never judged worker-1 down: \(unaware.sorted())")

        // Past another failure timeout, any false verdict about the stopped node would be in.
        try await Task.sleep(for: .seconds(7))
        for (name, process) in survivors {
            let down = Self.verdicts(in: process.output).down
            #expect(down == ["worker-1"], "\(name) judged \(down.sorted()) down")
        }
        let view = try await HTTP.json("\(files.baseURL)/api/cluster/").json
        let states = Dictionary(
            uniqueKeysWithValues: ((view["data"] as? [String: Any])?["nodes"] as? [[String: Any]] ?? []).compactMap {
                entry -> (String, String)? in
                guard let name = entry["name"] as? String, let state = entry["state"] as? String else { return nil }
                return (name, state)
            })
        #expect(states["worker-1"] == "down", "\(states)")
        #expect(states.filter { $0.key != "worker-1" }.values.allSatisfy { $0 == "up" }, "\(states)")
        #expect(states.count == 20)
    }
}
