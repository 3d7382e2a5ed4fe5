import Foundation

/// Server-sent events read from a byte stream as they arrive: `event:`, `id:` and `data:` lines,
/// a blank line ends an event, comments (`:`) are skipped.
struct ServerEvent {
    var name = "message"
    var id: String?
    var data = ""

    /// The data as a JSON object (every Lector event's data is one).
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:] }
}

struct ServerEventParser {
    private var buffer: [UInt8] = []
    private var current = ServerEvent()
    private var hasData = false

    /// Feeds bytes; returns the events they complete.
    mutating func feed(_ bytes: some Sequence<UInt8>) -> [ServerEvent] {
        buffer.append(contentsOf: bytes)
        var events: [ServerEvent] = []
        while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            var line = String(decoding: buffer[..<newline], as: UTF8.self)
            buffer.removeSubrange(...newline)
            if line.hasSuffix("\r") { line.removeLast() }
            if line.isEmpty {
                if hasData { events.append(current) }
                current = ServerEvent()
                hasData = false
                continue
            }
            if line.hasPrefix(":") { continue }
            let field = line.prefix { $0 != ":" }
            var value = line.dropFirst(field.count)
            if value.hasPrefix(":") { value = value.dropFirst() }
            if value.hasPrefix(" ") { value = value.dropFirst() }
            switch field {
            case "event": current.name = String(value)
            case "id": current.id = String(value)
            case "data":
                current.data += (hasData ? "\n" : "") + value
                hasData = true
            default: break
            }
        }
        return events
    }
}
