import Distributed
import Foundation
import NIOCore

/// Receives the outcome of a locally executed call and turns it into a reply.
public struct ClusterResultHandler: DistributedTargetInvocationResultHandler {
    public typealias SerializationRequirement = Codable

    let complete: @Sendable (Reply.Outcome) -> Void

    public func onReturn<Success: SerializationRequirement>(value: Success) async throws {
        do {
            complete(.value(try Serialization.encode(value)))
        } catch {
            complete(
                .failure(
                    RemoteFailure(
                        kind: .invalidCall, typeName: "\(Success.self)",
                        message: "cannot encode the return value: \(error)")))
        }
    }

    public func onReturnVoid() async throws {
        complete(.void)
    }

    public func onThrow<Err: Error>(error: Err) async throws {
        // Bound to an existential first so `type(of:)` names the thrown type, not the box.
        let thrown: any Error = error
        complete(.failure(RemoteFailure.thrown(thrown)))
    }
}

extension RemoteFailure {
    /// Describes a thrown error; Codable errors also carry themselves so the caller can rethrow the
    /// real type when it has registered it.
    static func thrown(_ error: any Error) -> RemoteFailure {
        var payload: ByteBuffer?
        if let encodable = error as? any Encodable {
            payload = try? Serialization.encode(encodable)
        }
        return RemoteFailure(
            kind: .thrown, typeName: ErrorRegistry.name(of: type(of: error)),
            message: String(describing: error),
            payload: payload)
    }
}
