import NIOCore

/// The binary layout: a one-byte tag, then the fields in order. Integers are big-endian, strings and
/// byte blobs carry a 32-bit length, lists a 32-bit count.
extension Envelope {
    enum Tag: UInt8 {
        case hello = 1
        case welcome, call, replyValue, replyVoid, replyFailure, ping, pong, leaving, cancel, swim
    }

    /// About the bytes `encode` writes: payloads plus a little, so one allocation holds them.
    var encodedSizeHint: Int {
        switch self {
        case .call(let call):
            256 + call.recipientPath.utf8.count + call.target.utf8.count
                + call.genericSubstitutions.reduce(0) { $0 + 4 + $1.utf8.count }
                + call.arguments.reduce(0) { $0 + 4 + $1.readableBytes }
        case .reply(let reply):
            switch reply.outcome {
            case .value(let value): 64 + value.readableBytes
            default: 256
            }
        case .swim(let packet): 64 + packet.gossip.count * 96
        default: 256
        }
    }

    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .hello(let hello):
            buffer.writeInteger(Tag.hello.rawValue)
            buffer.writeHello(hello)
        case .welcome(let hello):
            buffer.writeInteger(Tag.welcome.rawValue)
            buffer.writeHello(hello)
        case .call(let call):
            buffer.writeInteger(Tag.call.rawValue)
            buffer.writeInteger(call.id)
            buffer.writeLengthPrefixedString(call.recipientPath)
            buffer.writeInteger(call.recipientIncarnation)
            buffer.writeLengthPrefixedString(call.target)
            buffer.writeInteger(UInt32(call.genericSubstitutions.count))
            for name in call.genericSubstitutions { buffer.writeLengthPrefixedString(name) }
            buffer.writeInteger(UInt32(call.arguments.count))
            for argument in call.arguments { buffer.writeLengthPrefixedBlob(argument) }
        case .reply(let reply):
            switch reply.outcome {
            case .value(let value):
                buffer.writeInteger(Tag.replyValue.rawValue)
                buffer.writeInteger(reply.callID)
                buffer.writeLengthPrefixedBlob(value)
            case .void:
                buffer.writeInteger(Tag.replyVoid.rawValue)
                buffer.writeInteger(reply.callID)
            case .failure(let failure):
                buffer.writeInteger(Tag.replyFailure.rawValue)
                buffer.writeInteger(reply.callID)
                buffer.writeInteger(failure.kind.rawValue)
                buffer.writeLengthPrefixedString(failure.typeName)
                buffer.writeLengthPrefixedString(failure.message)
                buffer.writeOptionalBlob(failure.payload)
            }
        case .ping(let ping):
            buffer.writeInteger(Tag.ping.rawValue)
            buffer.writeInteger(ping.sequence)
            buffer.writeInteger(ping.knownStateVersion)
        case .pong(let pong):
            buffer.writeInteger(Tag.pong.rawValue)
            buffer.writeInteger(pong.sequence)
            buffer.writeInteger(pong.stateVersion)
            buffer.writeOptionalBlob(pong.state)
        case .leaving(let node):
            buffer.writeInteger(Tag.leaving.rawValue)
            buffer.writeNode(node)
        case .cancel(let callID):
            buffer.writeInteger(Tag.cancel.rawValue)
            buffer.writeInteger(callID)
        case .swim(let packet):
            buffer.writeInteger(Tag.swim.rawValue)
            buffer.writeInteger(packet.kind.rawValue)
            buffer.writeInteger(packet.sequence)
            buffer.writeLengthPrefixedString(packet.target)
            buffer.writeInteger(UInt32(truncatingIfNeeded: packet.gossip.count))
            for entry in packet.gossip {
                buffer.writeNode(entry.node)
                buffer.writeLengthPrefixedString(entry.role)
                buffer.writeInteger(entry.incarnation)
                buffer.writeInteger(entry.status)
                buffer.writeInteger(entry.stateVersion)
                buffer.writeInteger(UInt8(truncatingIfNeeded: entry.keys.count))
                for key in entry.keys { buffer.writeLengthPrefixedString(key) }
            }
        }
    }

    /// Decodes exactly one envelope that fills `buffer`; trailing bytes are an error.
    public init(decoding buffer: inout ByteBuffer) throws(EnvelopeError) {
        guard let raw: UInt8 = buffer.readInteger() else { throw .truncated }
        guard let tag = Tag(rawValue: raw) else { throw .unknownTag(raw) }
        switch tag {
        case .hello: self = .hello(try buffer.readHello())
        case .welcome: self = .welcome(try buffer.readHello())
        case .call:
            let id: UInt64 = try buffer.readRequired()
            let path = try buffer.readRequiredString()
            let incarnation: UInt64 = try buffer.readRequired()
            let target = try buffer.readRequiredString()
            let genericCount: UInt32 = try buffer.readRequired()
            guard Int(genericCount) <= buffer.readableBytes / 4 else { throw .truncated }
            var generics: [String] = []
            generics.reserveCapacity(Int(genericCount))
            for _ in 0..<genericCount { generics.append(try buffer.readRequiredString()) }
            let argumentCount: UInt32 = try buffer.readRequired()
            guard Int(argumentCount) <= buffer.readableBytes / 4 else { throw .truncated }
            var arguments: [ByteBuffer] = []
            arguments.reserveCapacity(Int(argumentCount))
            for _ in 0..<argumentCount { arguments.append(try buffer.readRequiredBlob()) }
            self = .call(
                Call(
                    id: id, recipientPath: path, recipientIncarnation: incarnation, target: target,
                    genericSubstitutions: generics, arguments: arguments))
        case .replyValue:
            let id: UInt64 = try buffer.readRequired()
            self = .reply(Reply(callID: id, outcome: .value(try buffer.readRequiredBlob())))
        case .replyVoid:
            self = .reply(Reply(callID: try buffer.readRequired(), outcome: .void))
        case .replyFailure:
            let id: UInt64 = try buffer.readRequired()
            let rawKind: UInt8 = try buffer.readRequired()
            guard let kind = RemoteFailure.Kind(rawValue: rawKind) else {
                throw .invalidValue("failure kind \(rawKind)")
            }
            let typeName = try buffer.readRequiredString()
            let message = try buffer.readRequiredString()
            let payload = try buffer.readOptionalBlob()
            self = .reply(
                Reply(
                    callID: id,
                    outcome: .failure(
                        RemoteFailure(kind: kind, typeName: typeName, message: message, payload: payload))))
        case .ping:
            self = .ping(
                Ping(sequence: try buffer.readRequired(), knownStateVersion: try buffer.readRequired()))
        case .pong:
            let sequence: UInt64 = try buffer.readRequired()
            let version: UInt64 = try buffer.readRequired()
            self = .pong(
                Pong(sequence: sequence, stateVersion: version, state: try buffer.readOptionalBlob()))
        case .leaving:
            self = .leaving(try buffer.readNode())
        case .cancel:
            self = .cancel(try buffer.readRequired())
        case .swim:
            let rawKind: UInt8 = try buffer.readRequired()
            guard let kind = SWIMPacket.Kind(rawValue: rawKind) else { throw .invalidValue("SWIM kind \(rawKind)") }
            let sequence: UInt64 = try buffer.readRequired()
            let target = try buffer.readRequiredString()
            let count: UInt32 = try buffer.readRequired()
            guard count <= SWIMPacket.maximumEntries(kind) else { throw .invalidValue("SWIM gossip count \(count)") }
            var gossip: [SWIMPacket.Gossip] = []
            gossip.reserveCapacity(Int(count))
            for _ in 0..<count {
                let node = try buffer.readNode()
                let role = try buffer.readRequiredString()
                let incarnation: UInt64 = try buffer.readRequired()
                let status: UInt8 = try buffer.readRequired()
                guard status <= 2 else { throw .invalidValue("SWIM status \(status)") }
                let stateVersion: UInt64 = try buffer.readRequired()
                let keyCount: UInt8 = try buffer.readRequired()
                guard keyCount <= SWIMPacket.maximumKeys else { throw .invalidValue("SWIM key count \(keyCount)") }
                var keys: [String] = []
                for _ in 0..<keyCount {
                    let key = try buffer.readRequiredString()
                    guard key.utf8.count <= SWIMPacket.maximumKeyLength else { throw .invalidValue("SWIM key length") }
                    keys.append(key)
                }
                gossip.append(
                    .init(
                        node: node, role: role, incarnation: incarnation, status: status, stateVersion: stateVersion,
                        keys: keys))
            }
            self = .swim(SWIMPacket(kind: kind, sequence: sequence, target: target, gossip: gossip))
        }
        guard buffer.readableBytes == 0 else { throw .trailingBytes(buffer.readableBytes) }
    }
}

public enum EnvelopeError: Error, Equatable, CustomStringConvertible {
    case truncated
    case unknownTag(UInt8)
    case invalidValue(String)
    case trailingBytes(Int)

    public var description: String {
        switch self {
        case .truncated: "envelope ends before its last field"
        case .unknownTag(let tag): "unknown envelope tag \(tag)"
        case .invalidValue(let what): "invalid \(what) in envelope"
        case .trailingBytes(let count): "\(count) unexpected bytes after the envelope"
        }
    }
}

extension ByteBuffer {
    fileprivate mutating func writeLengthPrefixedString(_ string: String) {
        let lengthIndex = writerIndex
        writeInteger(UInt32(0))
        let written = writeString(string)
        setInteger(UInt32(written), at: lengthIndex)
    }

    fileprivate mutating func writeLengthPrefixedBlob(_ blob: ByteBuffer) {
        writeInteger(UInt32(blob.readableBytes))
        writeImmutableBuffer(blob)
    }

    fileprivate mutating func writeOptionalBlob(_ blob: ByteBuffer?) {
        if let blob {
            writeInteger(UInt8(1))
            writeLengthPrefixedBlob(blob)
        } else {
            writeInteger(UInt8(0))
        }
    }

    fileprivate mutating func writeNode(_ node: ClusterNode) {
        writeLengthPrefixedString(node.name)
        writeLengthPrefixedString(node.host)
        writeInteger(UInt32(truncatingIfNeeded: node.port))
        writeInteger(node.incarnation)
    }

    fileprivate mutating func writeHello(_ hello: Hello) {
        writeInteger(hello.protocolVersion)
        writeNode(hello.node)
        writeLengthPrefixedString(hello.role)
        writeLengthPrefixedBlob(hello.state)
    }

    fileprivate mutating func readRequired<T: FixedWidthInteger>(as: T.Type = T.self)
        throws(EnvelopeError) -> T
    {
        guard let value: T = readInteger() else { throw .truncated }
        return value
    }

    fileprivate mutating func readRequiredBlob() throws(EnvelopeError) -> ByteBuffer {
        let length: UInt32 = try readRequired()
        guard let slice = readSlice(length: Int(length)) else { throw .truncated }
        return slice
    }

    fileprivate mutating func readRequiredString() throws(EnvelopeError) -> String {
        let length: UInt32 = try readRequired()
        guard let string = readString(length: Int(length)) else { throw .truncated }
        return string
    }

    fileprivate mutating func readOptionalBlob() throws(EnvelopeError) -> ByteBuffer? {
        let present: UInt8 = try readRequired()
        switch present {
        case 0: return nil
        case 1: return try readRequiredBlob()
        default: throw .invalidValue("optional marker \(present)")
        }
    }

    fileprivate mutating func readNode() throws(EnvelopeError) -> ClusterNode {
        let name = try readRequiredString()
        let host = try readRequiredString()
        let port: UInt32 = try readRequired()
        let incarnation: UInt64 = try readRequired()
        guard port <= 65535 else { throw .invalidValue("port \(port)") }
        return ClusterNode(name: name, host: host, port: Int(port), incarnation: incarnation)
    }

    fileprivate mutating func readHello() throws(EnvelopeError) -> Hello {
        let version: UInt16 = try readRequired()
        let node = try readNode()
        let role = try readRequiredString()
        let state = try readRequiredBlob()
        return Hello(protocolVersion: version, node: node, role: role, state: state)
    }
}
