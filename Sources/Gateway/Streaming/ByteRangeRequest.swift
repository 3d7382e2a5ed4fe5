/// A `Range: bytes=…` header as RFC 9110 §14.1.2 defines it, parsed without trusting its numbers.
///
/// Only the first range of a list is served (decision: a single part, never
/// `multipart/byteranges`; players ask for one range at a time). Numbers too large for 64 bits
/// saturate instead of trapping: a last position past the end is clamped like any other.
enum ByteRangeRequest: Equatable {
    /// `a-b` or `a-` (then `last` is nil).
    case from(first: UInt64, last: UInt64?)
    /// `-n`: the last n bytes.
    case suffix(UInt64)

    enum Resolved: Equatable {
        case range(Range<Int>)
        case unsatisfiable
    }

    /// nil when the header is not a valid bytes range set, which the server then ignores (200).
    static func parse(_ header: String) -> ByteRangeRequest? {
        let value = header.utf8
        guard value.count <= 4096 else { return nil }
        var text = Substring(header)
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        guard text.count > 6, text.prefix(6).lowercased() == "bytes=" else { return nil }
        let specs = text.dropFirst(6).split(separator: ",", omittingEmptySubsequences: false)
        var parsed: [ByteRangeRequest] = []
        for raw in specs {
            let spec = raw.trimmingSpaces
            if spec.isEmpty { continue }  // RFC 9110 allows empty list elements
            guard let range = single(spec) else { return nil }
            parsed.append(range)
        }
        return parsed.first
    }

    private static func single(_ spec: Substring) -> ByteRangeRequest? {
        guard let dash = spec.firstIndex(of: "-") else { return nil }
        let firstText = spec[..<dash]
        let lastText = spec[spec.index(after: dash)...]
        if firstText.isEmpty {
            guard let length = number(lastText) else { return nil }
            return .suffix(length)
        }
        guard let first = number(firstText) else { return nil }
        if lastText.isEmpty { return .from(first: first, last: nil) }
        guard let last = number(lastText), last >= first else { return nil }
        return .from(first: first, last: last)
    }

    /// Digits only; saturates at UInt64.max.
    private static func number(_ text: Substring) -> UInt64? {
        guard !text.isEmpty else { return nil }
        var value: UInt64 = 0
        for byte in text.utf8 {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            value = overflow1 || overflow2 ? .max : sum
        }
        return value
    }

    /// The bytes of a `total`-byte representation this range names.
    func resolve(total: Int) -> Resolved {
        let size = UInt64(max(total, 0))
        switch self {
        case .suffix(let length):
            guard length > 0, size > 0 else { return .unsatisfiable }
            return .range(Int(size - min(length, size))..<Int(size))
        case .from(let first, let last):
            guard first < size else { return .unsatisfiable }
            let end = min(last ?? (size - 1), size - 1)
            return .range(Int(first)..<Int(end + 1))
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: Substring {
        var text = self
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return text
    }
}
