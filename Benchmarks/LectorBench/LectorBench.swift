import ArgumentParser
import Foundation

/// `make bench`: Lector measured against its baselines in one run, on this machine, as ratios.
@main
struct LectorBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lector-bench", abstract: "Lector's benchmarks, each against its baseline.",
        subcommands: [RunAll.self, LoopPart.self, NoopWorkerCommand.self, MembershipHostCommand.self],
        defaultSubcommand: RunAll.self)
}

struct RunAll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the benchmarks.")

    @Option(help: "The lector binary (default: the one next to this program).") var lector: String?
    @Option(help: "The gRPC baseline binary (Benchmarks/GRPCBaseline); without it there is no RPC ratio.")
    var grpc: String?
    @Option(help: "Folder with english-8p.pdf and hindi-8p.pdf.") var fixtures = "Tests/LectorTests/Fixtures"
    @Option(help: "Where to write the figures as JSON.") var output = "bench-results.json"
    @Option(help: "Comma-separated parts to run: rpc,dispatch,takeover,membership,pipeline,scale,ocr,voices.")
    var only = "rpc,dispatch,takeover,membership,pipeline,scale,ocr,voices"
    @Option(help: "Cluster sizes of the membership run (SWIM).") var membershipSizes = "16,64,256"
    @Option(help: "Cluster sizes of the full mesh's membership run, SWIM's baseline.") var fullMeshSizes = "16,64"
    @Option(help: "SWIM's idle-connection timeout in the membership run, seconds (0: the default).")
    var swimIdleSeconds = 0
    @Option(help: "The recogniser script for the voices' word error rates.") var intelligibilityScript =
        "Benchmarks/intelligibility.py"
    @Option(help: "The script that makes the rotated scans.") var scansScript = "Tests/LectorTests/Scans/make_scans.py"
    @Option(help: "Sequential calls per payload size.") var calls = 5000
    @Option(help: "Concurrent callers for the throughput runs.") var callers = 64
    @Option(help: "Seconds per throughput run.") var seconds: Double = 3
    @Option(help: "No-op jobs in the dispatch run.") var dispatchPages = 3000
    @Option(help: "Worker concurrency in the dispatch run.") var dispatchConcurrency = 32
    @Option(help: "Per-worker concurrency of the 64-process dispatch run (default: the same total slots).")
    var dispatchWideConcurrency: Int?
    @Flag(help: "Only the 64-process dispatch comparison.") var dispatchWideOnly = false
    @Option(help: "Pages of the generated scale book.") var scalePages = 1000
    @Option(help: "Worker concurrency in the pipeline run (as `make run`).") var pipelineConcurrency = 2

    func run() async throws {
        let parts = Set(only.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let lectorURL = URL(
            fileURLWithPath: lector
                ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(
                    "lector"
                ).path)
        var results: Figures = [
            "machine": [
                "cores": ProcessInfo.processInfo.activeProcessorCount,
                "date": ISO8601DateFormatter().string(from: Date()),
            ]
        ]
        var summary: [(String, String, String, String, String)] = []

        if parts.contains("rpc") {
            let lector = try await RPCBench(calls: calls, callers: callers, seconds: seconds).run()
            var group: Figures = ["lector": lector]
            if let grpc {
                let baseline = try runGRPC(grpc)
                group["grpc"] = baseline
                for size in ["100b", "64kb", "1mb"] {
                    if let ours = lector[size]?["concurrent_calls_per_s"],
                        let theirs = baseline[size]?["concurrent_calls_per_s"]
                    {
                        group["ratio_\(size)"] = ours / theirs
                    }
                }
                group["ratio"] = group["ratio_100b"]
                print(
                    "gRPC-swift 2 (TLS, HTTP/2) small-payload calls/s with \(callers) callers: \(format(baseline["100b"]?["concurrent_calls_per_s"] ?? 0))"
                )
            }
            results["rpc"] = group
            let ours = lector["100b"]?["concurrent_calls_per_s"] ?? 0
            let theirs =
                ((group["grpc"] as? [String: [String: Double]])?["100b"]?["concurrent_calls_per_s"]).map { format($0) }
                ?? "–"
            summary.append(
                (
                    "calls/s, 100 B, \(callers) callers", format(ours), "gRPC \(theirs)",
                    (group["ratio"] as? Double).map { format($0, 2) } ?? "–", "≥ 3"
                ))
            let p99 = lector["100b"]?["p99_us"] ?? 0
            let grpcP99 = ((group["grpc"] as? [String: [String: Double]])?["100b"]?["p99_us"]).map { format($0) } ?? "–"
            summary.append(("sequential p99 µs, 100 B", format(p99), "gRPC \(grpcP99)", "", "< 300"))
        }
        if parts.contains("dispatch") {
            let figures = try await DispatchBench(
                lector: lectorURL, pages: dispatchPages, concurrency: dispatchConcurrency,
                wideConcurrency: dispatchWideConcurrency, wideOnly: dispatchWideOnly
            ).run()
            results["dispatch"] = figures
            if let rate = figures["jobs_per_s"] as? Double, let postgres = figures["postgres"] as? Figures {
                summary.append(
                    (
                        "no-op jobs/s, 2 workers", format(rate), "Celery ~700",
                        format(figures["ratio_to_celery_reference"] as! Double, 1), "≥ 10"
                    ))
                summary.append(
                    (
                        "no-op jobs/s on PostgreSQL", format(postgres["jobs_per_s"] as! Double),
                        "SQLite \(format(rate))", format(figures["postgres_to_sqlite_ratio"] as! Double, 2), ""
                    ))
            }
            let wide = figures["wide"] as! Figures
            summary.append(
                (
                    "no-op jobs/s, \(wide["worker_processes"] as! Int) workers × \(wide["concurrency_per_worker"] as? Int ?? 0)",
                    (wide["jobs_per_s"] as? Double).map { format($0) } ?? "not up",
                    "2 × 32: \(((figures["swim_two"] as? Figures)?["jobs_per_s"] as? Double).map { format($0) } ?? "–")",
                    (figures["wide_to_two_ratio"] as? Double).map { format($0, 2) } ?? "–", "≥ 1"
                ))
            if let coordinator = figures["wide_coordinator_cpu_ratio"] as? Double,
                let workers = figures["wide_workers_cpu_ratio"] as? Double
            {
                summary.append(
                    (
                        "coordinator CPU/job, \(wide["worker_processes"] as! Int) workers / 2", format(coordinator, 2),
                        "workers' \(format(workers, 2))", "", ""
                    ))
            }
        }
        if parts.contains("takeover") {
            let figures = try await TakeoverBench(lector: lectorURL).run()
            results["takeover"] = figures
            summary.append(
                (
                    "kill -9 active coordinator → next job, s", format(figures["takeover_median_s"] as! Double, 2),
                    "restart \(format(figures["restart_median_s"] as! Double, 2))",
                    format(figures["takeover_to_restart_ratio"] as! Double, 2),
                    "worst < \(format(figures["goal_s"] as! Double, 1)) s"
                ))
        }
        if parts.contains("membership") {
            func sizes(_ list: String) -> [Int] {
                list.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            }
            // Today's full mesh first, as the baseline SWIM's figures stand beside.
            let mesh = try await MembershipBench(sizes: sizes(fullMeshSizes), membership: .fullMesh).run()
            let swim = try await MembershipBench(
                sizes: sizes(membershipSizes), membership: .swim,
                idleConnectionTimeout: swimIdleSeconds > 0 ? .seconds(swimIdleSeconds) : nil
            ).run()
            results["membership"] = ["full_mesh": mesh, "swim": swim] as Figures
            summary += MembershipBench.rows(mesh, sizes: sizes(fullMeshSizes), baseline: nil)
            summary += MembershipBench.rows(swim, sizes: sizes(membershipSizes), baseline: mesh)
        }
        if parts.contains("pipeline") {
            let figures = try await PipelineBench(
                lector: lectorURL, fixtures: URL(fileURLWithPath: fixtures), concurrency: pipelineConcurrency
            ).run()
            results["pipeline"] = figures
            for name in ["english_8p", "hindi_8p", "english_64p"] {
                let entry = figures[name] as! [String: Double]
                summary.append(
                    (
                        "\(name) upload → audio ready, s", format(entry["audio_ready_s"]!, 2),
                        "loop \(format(entry["plain_loop_s"]!, 2))", format(entry["ratio"]!, 3), "≤ 1.05"
                    ))
            }
        }
        if parts.contains("scale") {
            let figures = try await ScaleBench(lector: lectorURL, pages: scalePages).run()
            results["scale"] = figures
            summary.append(
                (
                    "coordinator peak RSS MB, \(scalePages) pages", format(figures["coordinator_rss_mb"] as! Double, 1),
                    "", "", "< 150"
                ))
            summary.append(("status/ p99 ms while voicing", format(figures["status_p99_ms"] as! Double, 2), "", "", ""))
        }

        if parts.contains("ocr") {
            let figures = try await OCRBench(
                fixtures: URL(fileURLWithPath: fixtures), scansScript: URL(fileURLWithPath: scansScript)
            ).run()
            results["ocr"] = figures
            summary.append(
                (
                    "OCR s/page with OSD", format(figures["seconds_per_page_osd"] as! Double, 2),
                    "no OSD \(format(figures["seconds_per_page_no_osd"] as! Double, 2))",
                    format(figures["osd_cost_ratio"] as! Double, 2), ""
                ))
            summary.append(
                (
                    "180° scan: upright words read", format(100 * (figures["overlap_180_osd"] as! Double)) + " %",
                    "no OSD \(format(100 * (figures["overlap_180_no_osd"] as! Double))) %", "", "≥ 90 %"
                ))
            summary.append(
                (
                    "hindi-8p pages to OCR", format(100 * (figures["hindi_8p_share_to_ocr"] as! Double)) + " %", "",
                    "", ""
                ))
        }

        if parts.contains("voices") {
            let figures = try await VoiceBench(
                lector: lectorURL, fixtures: URL(fileURLWithPath: fixtures),
                intelligibilityScript: URL(fileURLWithPath: intelligibilityScript), concurrency: pipelineConcurrency
            ).run()
            results["voices"] = figures
            summary.append(
                (
                    "piper CPU s per audio s", format(figures["piper_cpu_s_per_audio_s"] as! Double, 3),
                    "espeak \(format(figures["espeak-ng_cpu_s_per_audio_s"] as! Double, 4))",
                    format(figures["piper_cost_over_espeak"] as! Double, 0), ""
                ))
            summary.append(
                (
                    "word error rate (pocketsphinx), piper", format((figures["piper_wer"] as? Double) ?? .nan, 3),
                    "espeak \(format((figures["espeak-ng_wer"] as? Double) ?? .nan, 3))", "", "relative"
                ))
            summary.append(
                (
                    "natural english_8p → audio ready, s", format(figures["audio_ready_s"] as! Double, 2),
                    "loop \(format(figures["plain_loop_s"] as! Double, 2))", format(figures["ratio"] as! Double, 3),
                    "≤ 1.05"
                ))
            summary.append(
                (
                    "natural: upload → first playable byte, s", format(figures["first_playable_s"] as! Double, 2), "",
                    "", "≤ 5"
                ))
            summary.append(
                ("natural: upload → first complete page, s", format(figures["first_page_s"] as! Double, 2), "", "", ""))
        }

        print("\nSummary")
        print("figure                                       lector      baseline        ratio   goal")
        for row in summary {
            print(
                row.0.padding(toLength: 45, withPad: " ", startingAt: 0)
                    + row.1.padding(toLength: 12, withPad: " ", startingAt: 0)
                    + row.2.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + row.3.padding(toLength: 8, withPad: " ", startingAt: 0) + row.4)
        }
        let data = try JSONSerialization.data(withJSONObject: results, options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: output))
        print("\nAll figures: \(output)")
    }

    /// Runs the gRPC baseline with the same parameters and reads its figures.
    func runGRPC(_ path: String) throws -> [String: [String: Double]] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("grpc-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [
            "--calls", "\(calls)", "--callers", "\(callers)", "--seconds", "\(seconds)", "--output", file.path,
        ]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw BenchError("the gRPC baseline failed") }
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: [String: Double]] ?? [:]
        // Its keys are "rpc.100b" …; ours are "100b" ….
        return Dictionary(
            uniqueKeysWithValues: json.map { ($0.key.replacingOccurrences(of: "rpc.", with: ""), $0.value) })
    }
}

/// One process of the plain-loop baseline (started by the pipeline benchmark).
struct LoopPart: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "synthesis-loop", shouldDisplay: false)

    @Argument var texts: String
    @Option var part: Int
    @Option var of: Int
    @Option var engine = "espeak-ng"

    func run() async throws {
        let pages = try JSONDecoder().decode([String].self, from: Data(contentsOf: URL(fileURLWithPath: texts)))
        try await SynthesisLoop.voice(pages, part: part, of: of, engine: engine)
    }
}
