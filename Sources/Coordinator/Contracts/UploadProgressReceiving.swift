import ClusterTransport
import Distributed

/// Implemented by whoever wants the events of one upload as they happen (the gateway, to stream
/// them as SSE). A distributed call cannot return a stream, so the coordinator calls back instead.
@Resolvable
public protocol UploadProgressReceiving: DistributedActor where ActorSystem == ClusterSystem {
    distributed func textExtracted(_ progress: TextProgress) async
}
