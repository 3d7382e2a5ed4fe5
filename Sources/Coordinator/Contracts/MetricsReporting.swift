import ClusterTransport
import Distributed

/// Implemented by the coordinator and the page workers: their metrics in Prometheus' text
/// format, for the gateway to gather.
@Resolvable
public protocol MetricsReporting: DistributedActor where ActorSystem == ClusterSystem {
    distributed func prometheusText() async -> String
}
