import Distributed
import Foundation
import NIOCore
import Testing

@testable import ClusterTransport

@Suite("Fuzzing a live node")
struct FuzzTests {
    /// Thousands of random and mutated frames from an authenticated peer: the node closes the bad
    /// connections and keeps answering real calls throughout.
    @Test func mutatedFramesNeverTakeTheNodeDown() async throws {
        let cluster = try TestCluster()
        let server = try await cluster.start("server")
        let client = try await cluster.start("client", seeds: [server])
        defer {
            Task {
                await client.shutdown()
                await server.shutdown()
            }
        }
        let greeter = ClusterSystem.$actorPath.withValue("greeter") { Greeter(actorSystem: server) }
        let remote = try Greeter.resolve(id: greeter.id, using: client)
        let tls = try ClusterTLS(credentials: try cluster.credentials(for: "fuzzer"))
        let me = ClusterNode(name: "fuzzer", host: "127.0.0.1", port: 1, incarnation: 99)

        var corpus: [ByteBuffer] = WireTests.samples.map { envelope in
            var buffer = ByteBuffer()
            envelope.encode(into: &buffer)
            return buffer
        }
        var call = ByteBuffer()
        Envelope.call(
            Call(
                id: 1, recipientPath: "greeter", recipientIncarnation: server.node.incarnation,
                target: "nonsense",
                genericSubstitutions: ["Si", "garbage"], arguments: [ByteBuffer(string: "{")])
        ).encode(into: &call)
        corpus.append(call)

        var random = SeededGenerator(seed: 2026)
        var client0: RawClient?
        var sent = 0
        var connections = 0
        let deadline = ContinuousClock.now + .seconds(90)
        while sent < 3000, ContinuousClock.now < deadline {
            if client0 == nil || !(client0!.isOpen) {
                client0 = try await RawClient.connect(port: server.node.port, tls: tls)
                connections += 1
                try? await client0!.send(
                    .hello(Hello(node: me, role: "fuzz", state: ByteBuffer(string: "{}"))))
            }
            var frame = corpus.randomElement(using: &random)!
            switch Int.random(in: 0..<5, using: &random) {
            case 0:
                frame = ByteBuffer(
                    bytes: (0..<Int.random(in: 0..<80, using: &random)).map { _ in
                        UInt8.random(in: 0...255, using: &random)
                    })
            case 1:
                for _ in 0..<Int.random(in: 1...4, using: &random) where frame.readableBytes > 0 {
                    let at = Int.random(in: 0..<frame.readableBytes, using: &random)
                    frame.setInteger(UInt8.random(in: 0...255, using: &random), at: frame.readerIndex + at)
                }
            case 2:
                frame = frame.getSlice(
                    at: frame.readerIndex, length: Int.random(in: 0...frame.readableBytes, using: &random))!
            case 3:
                // A length prefix that lies, sent raw.
                var raw = ByteBuffer()
                raw.writeInteger(UInt32.random(in: 0...UInt32.max, using: &random))
                raw.writeImmutableBuffer(frame)
                try? await client0!.send(raw: raw)
                sent += 1
                continue
            default:
                break
            }
            try? await client0!.send(frame: frame)
            sent += 1
            if sent % 250 == 0 {
                #expect(try await remote.greet("probe \(sent)") == "Hello, probe \(sent) from server!")
            }
        }
        #expect(sent >= 3000)
        #expect(connections > 1)
        #expect(try await remote.greet("after") == "Hello, after from server!")
    }
}
