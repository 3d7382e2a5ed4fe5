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

    static let internalError = APIError(
        .internalServerError, code: "internal_error", "Something went wrong on the server; the error was logged.")

    func call<T: Sendable>(_ body: (Coordinator) async throws -> T) async throws -> T {
        guard let id = system.receptionist.lookup(Coordinator.receptionKey).first else { throw Self.unavailable }
        do {
            return try await body(try Coordinator.resolve(id: id, using: system))
        } catch let error as LectorError {
            throw APIError(HTTPResponse.Status(code: error.status), code: error.code, error.message)
        } catch let error as ClusterError {
            switch error {
            case .serialization, .invalidCall, .forbidden:
                // Not the coordinator being away: something is wrong, and 503 would hide it.
                system.logger.error("coordinator call failed: \(error)")
                throw Self.internalError
            default:
                throw Self.unavailable
            }
        } catch let error as APIError {
            throw error
        } catch let error as RemoteCallError {
            system.logger.error("coordinator call failed: \(error)")
            throw Self.internalError
        }
    }
}
