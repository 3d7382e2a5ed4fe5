import ClusterTransport
import Coordinator
import Hummingbird

/// The gateway's one way to the coordinator: found through the receptionist on every request (so
/// a restarted coordinator is picked up by itself), with every failure turned into an HTTP answer.
struct CoordinatorClient: Sendable {
    let system: ClusterSystem

    static let unavailable = APIError(
        .serviceUnavailable, code: "coordinator_unavailable",
        "No coordinator is reachable right now; try again in a few seconds.")

    func call<T: Sendable>(_ body: (Coordinator) async throws -> T) async throws -> T {
        guard let id = system.receptionist.lookup(Coordinator.receptionKey).first else { throw Self.unavailable }
        do {
            return try await body(try Coordinator.resolve(id: id, using: system))
        } catch let error as LectorError {
            throw APIError(HTTPResponse.Status(code: error.status), code: error.code, error.message)
        } catch is ClusterError {
            throw Self.unavailable
        } catch let error as APIError {
            throw error
        } catch let error as RemoteCallError {
            throw APIError(.internalServerError, code: "internal_error", error.message)
        }
    }
}
