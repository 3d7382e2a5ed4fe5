import Foundation
import NIOCore
import Synchronization

/// The allow-list of error types that are rebuilt as themselves on the calling side.
///
/// A type name read off the wire must never pick an arbitrary type to decode, so only types a
/// module registered (`ClusterSystem.registerErrorType`) are decoded; anything else arrives as
/// `RemoteCallError` with its type name and message.
final class ErrorRegistry: Sendable {
    typealias Decode = @Sendable (ByteBuffer) throws -> any Error

    private let decoders = Mutex<[String: Decode]>([:])

    static func name(of type: any Error.Type) -> String { String(reflecting: type) }

    func register<E: Error & Codable>(_ type: E.Type) {
        decoders.withLock {
            $0[Self.name(of: type)] = { buffer in
                try JSONDecoder().decode(E.self, from: Data(buffer.readableBytesView))
            }
        }
    }

    /// The error a caller should see for a failure reply.
    func error(for failure: RemoteFailure, target: String, node: ClusterNode) -> any Error {
        switch failure.kind {
        case .unknownActor:
            return ClusterError.unknownActor(failure.message)
        case .invalidCall:
            return ClusterError.invalidCall(failure.message)
        case .forbidden:
            return ClusterError.forbidden(failure.message)
        case .actorGone:
            return ClusterError.actorGone(failure.message)
        case .overloaded:
            return ClusterError.overloaded(failure.message)
        case .thrown:
            if let payload = failure.payload, let decode = decoders.withLock({ $0[failure.typeName] }),
                let error = try? decode(payload)
            {
                return error
            }
            return RemoteCallError(typeName: failure.typeName, message: failure.message, node: node.name)
        }
    }
}
