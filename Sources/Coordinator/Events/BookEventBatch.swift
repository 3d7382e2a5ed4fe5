import Foundation

/// Events in one compact binary message, so a burst of changes crosses to a gateway as one call
/// with raw bytes (the actor system's `Data` fast path) instead of one JSON-wrapped call each.
///
/// Per event: id (Int64, little endian), name length (UInt8), name (UTF-8), JSON length (UInt32,
/// little endian), JSON.
public enum BookEventBatch {
    public static func encode(_ events: [BookEvent]) -> Data {
        var data = Data()
        data.reserveCapacity(events.reduce(0) { $0 + 13 + $1.name.utf8.count + $1.json.count })
        for event in events {
            withUnsafeBytes(of: Int64(event.id).littleEndian) { data.append(contentsOf: $0) }
            let name = Array(event.name.utf8.prefix(255))
            data.append(UInt8(name.count))
            data.append(contentsOf: name)
            withUnsafeBytes(of: UInt32(event.json.count).littleEndian) { data.append(contentsOf: $0) }
            data.append(event.json)
        }
        return data
    }

    /// The events, or nil when the bytes are not a whole batch.
    public static func decode(_ data: Data) -> [BookEvent]? {
        let bytes = [UInt8](data)
        var events: [BookEvent] = []
        var offset = 0
        func integer<T: FixedWidthInteger>(_: T.Type) -> T? {
            let size = MemoryLayout<T>.size
            guard offset + size <= bytes.count else { return nil }
            var value: T = 0
            for index in 0..<size { value |= T(bytes[offset + index]) << (8 * index) }
            offset += size
            return value
        }
        while offset < bytes.count {
            guard let id = integer(Int64.self), let nameLength = integer(UInt8.self),
                offset + Int(nameLength) <= bytes.count
            else { return nil }
            let name = String(decoding: bytes[offset..<offset + Int(nameLength)], as: UTF8.self)
            offset += Int(nameLength)
            guard let jsonLength = integer(UInt32.self), offset + Int(jsonLength) <= bytes.count else { return nil }
            let json = Data(bytes[offset..<offset + Int(jsonLength)])
            offset += Int(jsonLength)
            events.append(BookEvent(id: Int(id), name: name, json: json))
        }
        return events
    }
}
