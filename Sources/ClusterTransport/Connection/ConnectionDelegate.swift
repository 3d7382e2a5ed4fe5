/// What a connection's handlers need from the system once the peer is known.
protocol ConnectionDelegate: AnyObject, Sendable {
    /// A connection someone else dialled has passed its handshake.
    func accepted(_ connection: PeerConnection, hello: Hello)
    /// Runs an incoming call from a peer of the given certified role and returns its outcome.
    func execute(_ call: Call, callerRole: String?) async -> Reply.Outcome
    /// Brackets an incoming call from its arrival until its reply is written, so shutdown can wait.
    func incomingCallStarted()
    func incomingCallEnded()
    func pong(answering ping: Ping, from peer: ClusterNode) -> Pong
    func received(_ pong: Pong, from connection: PeerConnection)
    /// A SWIM message from the connection's (certified) peer.
    func received(swim packet: SWIMPacket, from connection: PeerConnection)
    /// `node` says, over `peer`'s connection, that it is leaving (only its own word counts).
    func peerIsLeaving(_ node: ClusterNode, announcedBy peer: ClusterNode)
    /// Calls one connection may have running at once.
    var maxIncomingCalls: Int { get }
    func connectionClosed(_ connection: PeerConnection, reason: String)
}
