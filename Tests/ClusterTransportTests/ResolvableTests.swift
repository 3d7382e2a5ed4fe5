import Distributed
import Foundation
import Testing

@testable import ClusterTransport

@Resolvable
protocol Shouting: DistributedActor where ActorSystem == ClusterSystem {
    distributed func shout(_ text: String) -> String
    distributed func count(_ items: [String]) async throws -> Int
}

distributed actor Shouter: Shouting {
    typealias ActorSystem = ClusterSystem
    distributed func shout(_ text: String) -> String { text.uppercased() }
    distributed func count(_ items: [String]) async throws -> Int { items.count }
}

@Suite("Calls through @Resolvable protocols")
struct ResolvableTests {
    @Test func remoteAndLocalThroughProtocolStub() async throws {
        let cluster = try TestCluster()
        let server = try await cluster.start("server")
        let client = try await cluster.start("client", seeds: [server])
        defer {
            Task {
                await client.shutdown()
                await server.shutdown()
            }
        }
        let shouter = Shouter(actorSystem: server)

        let remote = try $Shouting.resolve(id: shouter.id, using: client)
        #expect(try await remote.shout("hi") == "HI")
        #expect(try await remote.count(["a", "b"]) == 2)

        // The same stub type for an actor of this very node goes through the local registry.
        let local = try $Shouting.resolve(id: shouter.id, using: server)
        #expect(try await local.shout("local") == "LOCAL")
    }
}
