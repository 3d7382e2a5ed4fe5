import Coordinator
import Foundation
import Hummingbird

/// An audio file held by the coordinator, answered with HTTP ranges so players can seek. The
/// bytes cross from the coordinator in slices, so the gateway never holds a whole file.
struct RangedAudio {
    static let sliceSize = 1 << 20

    var headers: HTTPFields = [.contentType: "audio/mpeg", .acceptRanges: "bytes"]
    /// A slice of the file at an offset; a length of 0 asks only the file's size.
    var fetch: @Sendable (_ offset: Int, _ length: Int) async throws -> AudioSlice

    func response(to request: Request) async throws -> Response {
        let total = try await fetch(0, 0).totalBytes
        var headers = self.headers
        var range = 0..<total
        var status = HTTPResponse.Status.ok
        if let header = request.headers[.range] {
            guard let asked = Self.byteRange(header, total: total) else {
                headers[.contentRange] = "bytes */\(total)"
                return APIResponse.failure(
                    .rangeNotSatisfiable, code: "range_not_satisfiable",
                    message: "The range \(header) is outside the \(total)-byte file."
                )
                .withHeaders(headers)
            }
            range = asked
            status = .partialContent
            headers[.contentRange] = "bytes \(asked.lowerBound)-\(asked.upperBound - 1)/\(total)"
        }
        let bytes = range
        let fetch = self.fetch
        let body = ResponseBody(contentLength: bytes.count) { writer in
            var offset = bytes.lowerBound
            while offset < bytes.upperBound {
                let slice = try await fetch(offset, min(Self.sliceSize, bytes.upperBound - offset))
                guard !slice.data.isEmpty else { break }
                try await writer.write(ByteBuffer(bytes: slice.data))
                offset += slice.data.count
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }

    /// One range of `bytes=a-b`, `bytes=a-` or `bytes=-n`, clipped to the file; nil if unsatisfiable.
    static func byteRange(_ header: String, total: Int) -> Range<Int>? {
        let value = header.trimmingCharacters(in: .whitespaces)
        guard value.lowercased().hasPrefix("bytes="), total > 0 else { return nil }
        let spec =
            value.dropFirst(6).split(separator: ",").first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
        let parts = spec.split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 2 else { return nil }
        if parts[0].isEmpty {
            guard let suffix = Int(parts[1]), suffix > 0 else { return nil }
            return max(0, total - suffix)..<total
        }
        guard let start = Int(parts[0]), start >= 0, start < total else { return nil }
        if parts[1].isEmpty { return start..<total }
        guard let end = Int(parts[1]), end >= start else { return nil }
        return start..<min(end + 1, total)
    }
}

extension Response {
    func withHeaders(_ fields: HTTPFields) -> Response {
        var response = self
        for field in fields where field.name != .contentType { response.headers[field.name] = field.value }
        return response
    }
}
