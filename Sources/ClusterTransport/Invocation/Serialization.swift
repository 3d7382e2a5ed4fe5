import Distributed
import Foundation
import NIOCore

/// How arguments and return values become bytes.
///
/// JSON for structured values; `Data` and `ByteBuffer` travel raw, because audio and PDF chunks are
/// the bulk of the traffic and base64 would cost a third more bytes and a pass over each.
enum Serialization {
    static func encode<Value: Encodable>(_ value: Value, allocator: ByteBufferAllocator = .init())
        throws -> ByteBuffer
    {
        if let data = value as? Data {
            return allocator.buffer(bytes: data)
        }
        if let buffer = value as? ByteBuffer {
            return buffer
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = []
        return allocator.buffer(bytes: try encoder.encode(value))
    }

    static func decode<Value: Decodable>(
        _ type: Value.Type, from buffer: ByteBuffer, system: ClusterSystem
    ) throws -> Value {
        if Value.self == Data.self {
            return Data(buffer.readableBytesView) as! Value
        }
        if Value.self == ByteBuffer.self {
            return buffer as! Value
        }
        let decoder = JSONDecoder()
        decoder.userInfo[.actorSystemKey] = system
        return try decoder.decode(Value.self, from: Data(buffer.readableBytesView))
    }
}
