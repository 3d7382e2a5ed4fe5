import Foundation

public enum MemberStatus: String, Codable, Sendable {
    /// Answering heartbeats.
    case up
    /// Missed heartbeats or lost its connection, but not for the whole failure timeout yet.
    case suspect
    /// Silent for the failure timeout, or left: its actors are gone from every listing.
    case down
}

/// One node as this node sees it.
public struct Member: Codable, Sendable, Equatable {
    public var name: String
    public var role: String
    public var host: String
    public var port: Int
    /// Unknown until this node has talked to it.
    public var incarnation: UInt64?
    public var status: MemberStatus
    public var lastHeartbeat: Date?
    public var isLocal: Bool
}
