import Testing

@testable import Gateway

/// RFC 9110 ranges on a 1000-byte file, with the numbers an attacker would pick.
@Suite struct ByteRangeTests {
    func resolve(_ header: String, total: Int = 1000) -> ByteRangeRequest.Resolved? {
        ByteRangeRequest.parse(header)?.resolve(total: total)
    }

    @Test func satisfiableRanges() {
        #expect(resolve("bytes=0-9") == .range(0..<10))
        #expect(resolve("bytes=100-") == .range(100..<1000))
        #expect(resolve("bytes=-500") == .range(500..<1000))
        #expect(resolve("bytes=-5000") == .range(0..<1000))  // suffix longer than the file: all of it
        #expect(resolve("bytes=990-2000") == .range(990..<1000))  // past the end: clamped
        #expect(resolve("bytes=0-9223372036854775807") == .range(0..<1000))
        #expect(resolve("bytes=0-99999999999999999999999999") == .range(0..<1000))  // saturates
        #expect(resolve("Bytes= 5-9 ") == .range(5..<10))
        #expect(resolve("bytes=0-1,5-9") == .range(0..<2))  // several: the first one
        #expect(resolve("bytes=,3-4") == .range(3..<5))
    }

    @Test func unsatisfiableRanges() {
        #expect(resolve("bytes=999999999-") == .unsatisfiable)
        #expect(resolve("bytes=1000-1000") == .unsatisfiable)
        #expect(resolve("bytes=-0") == .unsatisfiable)
        #expect(resolve("bytes=0-5", total: 0) == .unsatisfiable)
        #expect(resolve("bytes=99999999999999999999999-") == .unsatisfiable)
    }

    @Test func invalidHeadersAreIgnored() {
        for header in [
            "bytes=5-2", "bytes=abc", "items=0-5", "bytes=", "bytes=--1", "bytes=1-2-3", "bytes=+1-2", "bytes=0x10-",
        ] {
            #expect(ByteRangeRequest.parse(header) == nil, "\(header)")
        }
    }
}
