import Distributed
import NIOCore

/// Hands the runtime the arguments of an incoming call, decoding each as it asks for it.
public struct ClusterInvocationDecoder: DistributedTargetInvocationDecoder {
    public typealias SerializationRequirement = Codable

    let system: ClusterSystem
    let genericSubstitutions: [String]
    let arguments: [ByteBuffer]
    var nextArgument = 0

    init(system: ClusterSystem, genericSubstitutions: [String], arguments: [ByteBuffer]) {
        self.system = system
        self.genericSubstitutions = genericSubstitutions
        self.arguments = arguments
    }

    public mutating func decodeGenericSubstitutions() throws -> [Any.Type] {
        try genericSubstitutions.map { name in
            guard let type = _typeByName(name) else {
                throw ClusterError.serialization("unknown generic type \(name)")
            }
            return type
        }
    }

    public mutating func decodeNextArgument<Argument: SerializationRequirement>() throws -> Argument {
        guard nextArgument < arguments.count else {
            throw ClusterError.serialization("call has \(arguments.count) arguments, more were expected")
        }
        defer { nextArgument += 1 }
        return try Serialization.decode(Argument.self, from: arguments[nextArgument], system: system)
    }

    public mutating func decodeErrorType() throws -> Any.Type? { nil }

    public mutating func decodeReturnType() throws -> Any.Type? { nil }
}
