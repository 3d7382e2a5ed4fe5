import Foundation
import LectorTestSupport
import Testing

/// The real binary, one process per node, over real mutual TLS on loopback.
@Suite("Cluster of lector processes", .serialized)
struct ClusterProcessTests {
    func nodes(_ json: [String: Any]) -> [[String: Any]] {
        (json["data"] as? [String: Any])?["nodes"] as? [[String: Any]] ?? []
    }

    @Test func fourProcessesSeeEachOtherUpAndRefuseStrangers() async throws {
        let files = try TestClusterFiles(workers: 2)
        defer { files.remove() }
        try await files.makeCertificates()
        let coordinator = try files.start("coordinator", node: "coordinator")
        let workers = try (1...2).map { try files.start("worker", node: "worker-\($0)") }
        let gateway = try files.start("gateway", node: "gateway")
        let all = [coordinator, gateway] + workers

        let json = try await HTTP.waitFor("\(files.baseURL)/api/cluster/") { json in
            let nodes = self.nodes(json)
            return nodes.count == 4 && nodes.allSatisfy { $0["state"] as? String == "up" }
        }
        let nodes = self.nodes(json)
        #expect(json["status"] as? String == "PASS")
        #expect(
            Set(nodes.compactMap { $0["name"] as? String }) == [
                "gateway", "coordinator", "worker-1", "worker-2",
            ])
        #expect(nodes.allSatisfy { $0["state"] as? String == "up" }, "\(nodes)\n\(gateway.output)")
        let roles = Dictionary(
            uniqueKeysWithValues: nodes.map { ($0["name"] as! String, $0["role"] as! String) })
        #expect(
            roles["worker-1"] == "worker" && roles["coordinator"] == "coordinator"
                && roles["gateway"] == "gateway")
        for node in nodes {
            #expect(
                Set(node.keys).isSuperset(of: [
                    "name", "role", "address", "state", "jobs_done", "current_job", "last_heartbeat",
                ]))
        }
        #expect(
            nodes.first { $0["name"] as? String == "coordinator" }?["address"] as? String
                == "127.0.0.1:\(files.ports["coordinator"]!)")

        let health = try await HTTP.json("\(files.baseURL)/healthz")
        #expect(health.status == 200)

        // A TLS client without a certificate from the cluster CA gets no session.
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "s_client", "-connect", "127.0.0.1:\(files.ports["coordinator"]!)", "-CAfile",
            files.folder.appendingPathComponent("certs/ca.pem").path,
        ]
        let output = Pipe()
        let input = Pipe()
        openssl.standardOutput = output
        openssl.standardError = output
        openssl.standardInput = input
        try openssl.run()
        input.fileHandleForWriting.write(Data("hello\n".utf8))
        try await Task.sleep(for: .seconds(1))
        try? input.fileHandleForWriting.close()
        openssl.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(text.contains("certificate required"), "\(text)")
        #expect(!text.contains("SSL-Session:"), "\(text)")
        #expect(coordinator.isRunning)

        // SIGTERM: every node leaves cleanly.
        for process in all.reversed() {
            #expect(await process.terminate() == 0, "\(process.name): \(process.output)")
        }
    }

    @Test func devRestartsAWorkerThatDies() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("lector-dev-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let port = try LoopbackPort.free()
        let dev = try LectorProcess(
            "dev-supervised",
            arguments: [
                "dev", "--http", "127.0.0.1:\(port)", "--workers", "2", "--data",
                folder.appendingPathComponent("data").path,
            ],
            logDirectory: folder)
        let url = "http://127.0.0.1:\(port)/api/cluster/"
        _ = try await HTTP.waitFor(url, timeout: .seconds(40)) { json in
            let nodes = self.nodes(json)
            return nodes.count == 4 && nodes.allSatisfy { $0["state"] as? String == "up" }
        }
        let pattern = /started worker worker-1 \(pid (\d+)\)/
        let first = try #require(dev.output.firstMatch(of: pattern).flatMap { Int32($0.1) })
        kill(first, SIGKILL)
        let deadline = ContinuousClock.now + .seconds(30)
        var restarted: Int32?
        while ContinuousClock.now < deadline {
            let pids = dev.output.matches(of: pattern).compactMap { Int32($0.1) }
            if let last = pids.last, last != first { restarted = last; break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(restarted != nil, "\(dev.output)")
        #expect(dev.output.contains("worker worker-1 exited"))
        let json = try await HTTP.waitFor(url, timeout: .seconds(30)) { json in
            self.nodes(json).first { $0["name"] as? String == "worker-1" }?["state"] as? String == "up"
        }
        #expect(nodes(json).first { $0["name"] as? String == "worker-1" }?["state"] as? String == "up")
        #expect(await dev.terminate() == 0)
    }

    @Test func twoDevClustersRunSideBySideAndStopOnSigterm() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "lector-dev-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        var devs: [(LectorProcess, Int)] = []
        for index in 0..<2 {
            let port = try LoopbackPort.free()
            let dev = try LectorProcess(
                "dev-\(index)",
                arguments: [
                    "dev", "--http", "127.0.0.1:\(port)", "--workers", "2", "--data",
                    folder.appendingPathComponent("data-\(index)").path,
                ],
                logDirectory: folder.deletingLastPathComponent())
            devs.append((dev, port))
        }
        for (dev, port) in devs {
            let json = try await HTTP.waitFor(
                "http://127.0.0.1:\(port)/api/cluster/", timeout: .seconds(40)
            ) { json in
                let nodes = self.nodes(json)
                return nodes.count == 4 && nodes.allSatisfy { $0["state"] as? String == "up" }
            }
            #expect(nodes(json).count == 4, "\(dev.output)")
            #expect(
                FileManager.default.fileExists(
                    atPath: folder.appendingPathComponent("data-0/certs/ca.pem").path))
        }
        for (dev, port) in devs {
            #expect(await dev.terminate() == 0, "\(dev.output)")
            await #expect(throws: (any Error).self) {
                _ = try await HTTP.get("http://127.0.0.1:\(port)/healthz", timeout: .seconds(2))
            }
        }
    }
}
