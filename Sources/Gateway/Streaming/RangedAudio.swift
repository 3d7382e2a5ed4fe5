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
        // Several Range headers are not one valid field: the whole file, as for any invalid one.
        let fields = request.headers[values: .range]
        if fields.count == 1, let header = fields.first {
            switch ByteRangeRequest.parse(header).map({ $0.resolve(total: total) }) {
            case nil:
                break  // not a valid bytes range: RFC 9110 says ignore it
            case .unsatisfiable?:
                headers[.contentRange] = "bytes */\(total)"
                return APIResponse.failure(
                    .rangeNotSatisfiable, code: "range_not_satisfiable",
                    message: "The range asked for is outside the \(total)-byte file."
                )
                .withHeaders(headers)
            case .range(let asked)?:
                range = asked
                status = .partialContent
                headers[.contentRange] = "bytes \(asked.lowerBound)-\(asked.upperBound - 1)/\(total)"
            }
        }
        let bytes = range
        let fetch = self.fetch
        let body = ResponseBody(contentLength: bytes.count) { writer in
            var offset = bytes.lowerBound
            while offset < bytes.upperBound {
                let slice = try await fetch(offset, min(Self.sliceSize, bytes.upperBound - offset))
                guard !slice.data.isEmpty else { break }
                try await writer.write(ByteBuffer(bytes: slice.data.prefix(bytes.upperBound - offset)))
                offset += slice.data.count
            }
            try await writer.finish(nil)
        }
        return Response(status: status, headers: headers, body: body)
    }
}

extension Response {
    func withHeaders(_ fields: HTTPFields) -> Response {
        var response = self
        for field in fields where field.name != .contentType { response.headers[field.name] = field.value }
        return response
    }
}
