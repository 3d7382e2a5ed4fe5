import Distributed
import Metrics
import NIOCore
import Synchronization

extension ClusterSystem {
    public func makeInvocationEncoder() -> ClusterInvocationEncoder {
        ClusterInvocationEncoder()
    }

    public func remoteCall<Act, Err, Res>(
        on actor: Act, target: RemoteCallTarget, invocation: inout ClusterInvocationEncoder,
        throwing: Err.Type, returning: Res.Type
    ) async throws -> Res
    where Act: DistributedActor, Act.ID == ClusterActorID, Err: Error, Res: SerializationRequirement {
        let outcome = try await send(invocation, to: actor.id, target: target)
        switch outcome {
        case .value(let buffer):
            return try Serialization.decode(Res.self, from: buffer, system: self)
        case .void:
            throw ClusterError.serialization(
                "\(target.identifier) returned nothing, \(Res.self) was expected")
        case .failure(let failure):
            throw errorRegistry.error(for: failure, target: target.identifier, node: actor.id.node)
        }
    }

    public func remoteCallVoid<Act, Err>(
        on actor: Act, target: RemoteCallTarget, invocation: inout ClusterInvocationEncoder,
        throwing: Err.Type
    ) async throws where Act: DistributedActor, Act.ID == ClusterActorID, Err: Error {
        let outcome = try await send(invocation, to: actor.id, target: target)
        switch outcome {
        case .value, .void:
            return
        case .failure(let failure):
            throw errorRegistry.error(for: failure, target: target.identifier, node: actor.id.node)
        }
    }

    private func send(
        _ invocation: ClusterInvocationEncoder, to id: ClusterActorID, target: RemoteCallTarget
    ) async throws -> Reply.Outcome {
        if isLocal(id) {
            // A proxy for a local actor (see `resolve`): same serialisation, no socket.
            return await execute(
                Call(
                    id: 0, recipientPath: id.path, recipientIncarnation: node.incarnation,
                    target: target.identifier,
                    genericSubstitutions: invocation.genericSubstitutions, arguments: invocation.arguments),
                callerRole: nil)
        }
        let started = ContinuousClock.now
        defer { Self.callDuration.record(duration: ContinuousClock.now - started) }
        let connection = try await connection(to: id.node)
        // The target's own incarnation, not the connection's: an id from before a restart must
        // not reach the new actor that happens to have the same path.
        return try await connection.call(
            recipientPath: id.path, recipientIncarnation: id.node.incarnation, target: target.identifier,
            genericSubstitutions: invocation.genericSubstitutions,
            arguments: invocation.arguments, timeout: Self.callTimeout ?? settings.callTimeout)
    }

    /// Every remote call's round trip, as seen by the caller (failures included).
    static let callDuration = Metrics.Timer(label: "lector_actor_call_duration_seconds")

    /// Runs a call addressed to an actor of this node. `callerRole` is the certified role of the
    /// peer it came from (nil for a local call, which is not checked).
    func execute(_ call: Call, callerRole: String?) async -> Reply.Outcome {
        guard call.recipientIncarnation == node.incarnation else {
            return .failure(
                RemoteFailure(
                    kind: .actorGone, typeName: "",
                    message:
                        "actor \(call.recipientPath) belonged to an earlier run of node \(node.name), which has restarted"
                ))
        }
        guard let (actor, rules) = localActorAndRules(path: call.recipientPath) else {
            return .failure(
                RemoteFailure(
                    kind: .unknownActor, typeName: "",
                    message: "no actor \(call.recipientPath) on node \(node.name)"))
        }
        if let callerRole, let rules,
            let refusal = CallAuthorization.refusal(
                of: call.target, rules: rules, actorType: type(of: actor), callerRole: callerRole)
        {
            CallAuthorization.forbiddenCalls.increment()
            logger.warning("refused a call: \(refusal)")
            return .failure(RemoteFailure(kind: .forbidden, typeName: "", message: refusal))
        }
        let outcome = OutcomeBox()
        var decoder = ClusterInvocationDecoder(
            system: self, genericSubstitutions: call.genericSubstitutions, arguments: call.arguments)
        do {
            try await executeDistributedTarget(
                on: actor, target: RemoteCallTarget(call.target), invocationDecoder: &decoder,
                handler: ClusterResultHandler { outcome.set($0) })
        } catch {
            return .failure(
                RemoteFailure(kind: .invalidCall, typeName: "", message: "\(call.target): \(error)"))
        }
        return outcome.take()
            ?? .failure(
                RemoteFailure(
                    kind: .invalidCall, typeName: "", message: "\(call.target) produced no result"))
    }
}

/// Catches the result handler's outcome; `executeDistributedTarget` calls the handler before it returns.
private final class OutcomeBox: Sendable {
    private let value = Mutex<Reply.Outcome?>(nil)
    func set(_ outcome: Reply.Outcome) { value.withLock { $0 = outcome } }
    func take() -> Reply.Outcome? { value.withLock { $0 } }
}
