import ClusterTransport
import Coordinator
import Hummingbird

/// `GET /metrics`: the whole cluster's figures in Prometheus' text format. The gateway asks the
/// coordinator and every page worker for theirs through the actor system (a node that does not
/// answer within two seconds is left out and counted in `lector_metrics_scrape_failures`), and
/// adds its own.
struct MetricsRoutes {
    let client: CoordinatorClient
    let system: ClusterSystem

    func add(to router: some RouterMethods<BasicRequestContext>) {
        let client = self.client
        let system = self.system
        router.get("") { _, _ -> Response in
            let workers = system.receptionist.lookup(pageWorkerKey)
            let gathered = await withTaskGroup(of: (String, String)?.self) { group in
                group.addTask {
                    let text = try? await ClusterSystem.$callTimeout.withValue(.seconds(2)) {
                        try await client.call { try await $0.prometheusText() }
                    }
                    return text.map { ("coordinator", $0) }
                }
                for id in workers {
                    group.addTask {
                        let text = try? await ClusterSystem.$callTimeout.withValue(.seconds(2)) {
                            try await $MetricsReporting.resolve(id: id, using: system).prometheusText()
                        }
                        return text.map { (id.node.name, $0) }
                    }
                }
                var texts: [(String, String)] = []
                for await text in group { if let text { texts.append(text) } }
                return texts
            }
            let missing = workers.count + 1 - gathered.count
            var own = NodeMetrics.text()
            own += "# TYPE lector_metrics_scrape_failures gauge\nlector_metrics_scrape_failures \(missing)\n"
            let sources = [(system.node.name, own)] + gathered.sorted { $0.0 < $1.0 }.map { (node: $0.0, text: $0.1) }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: PrometheusMerge.merge(sources))))
        }
    }
}
