import Foundation
import Synchronization

/// A TCP port on 127.0.0.1 that is free now, for a server a test or benchmark starts next.
///
/// Taken below the kernel's ephemeral range and handed out in turn: the kernel's pick for port 0
/// comes from the range every outgoing connection takes its source port from, and in a cluster
/// of twenty processes dialling each other one of those connections took a port before the node
/// it was meant for had bound it (`Address already in use`).
public enum LoopbackPort {
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String { "no free loopback port" }
    }

    /// The ports below the ephemeral range.
    private static let range: Range<Int> = {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        let low = text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32768
        return max(1024, low - 12_000)..<max(1025, low)
    }()
    /// Where in `range` the next search starts (random at first, so test runs differ).
    private static let next = Mutex<Int>(Int.random(in: 0..<range.count))

    public static func free() throws -> Int {
        for _ in 0..<range.count {
            let offset = next.withLock { next in
                defer { next = (next + 1) % range.count }
                return next
            }
            let port = range.lowerBound + offset
            if canBind(port) { return port }
        }
        return try kernelsPick()
    }

    private static func canBind(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        } == 0
    }

    /// The kernel's pick for port 0: the fallback when no port below the range is free.
    private static func kernelsPick() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw Unavailable() }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Unavailable() }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
