/// A running node of the cluster.
///
/// The `incarnation` changes every time a process starts, so an identity minted by a previous run of
/// the same node never reaches an actor of the new one by accident.
public struct ClusterNode: Hashable, Codable, Sendable, CustomStringConvertible {
    public var name: String
    public var host: String
    public var port: Int
    public var incarnation: UInt64

    public init(name: String, host: String, port: Int, incarnation: UInt64) {
        self.name = name
        self.host = host
        self.port = port
        self.incarnation = incarnation
    }

    public var address: String { "\(host):\(port)" }

    public var description: String { "\(name)@\(address)#\(String(incarnation, radix: 36))" }
}
