import Distributed
import NIOCore

/// Collects what the runtime records about an outgoing call: generic substitutions and arguments,
/// each argument already serialised so `remoteCall` only has to frame it.
public struct ClusterInvocationEncoder: DistributedTargetInvocationEncoder {
    public typealias SerializationRequirement = Codable

    var genericSubstitutions: [String] = []
    var arguments: [ByteBuffer] = []

    public mutating func recordGenericSubstitution<T>(_ type: T.Type) throws {
        guard let name = _mangledTypeName(T.self) else {
            throw ClusterError.serialization("cannot name generic type \(T.self) for the wire")
        }
        genericSubstitutions.append(name)
    }

    public mutating func recordArgument<Value: SerializationRequirement>(
        _ argument: RemoteCallArgument<Value>
    ) throws {
        arguments.append(try Serialization.encode(argument.value))
    }

    public mutating func recordReturnType<R: SerializationRequirement>(_ type: R.Type) throws {}

    public mutating func recordErrorType<E: Error>(_ type: E.Type) throws {}

    public mutating func doneRecording() throws {}
}
