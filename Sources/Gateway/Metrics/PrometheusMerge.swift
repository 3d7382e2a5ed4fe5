/// Joins the metrics of several nodes into one Prometheus text exposition.
///
/// Each node's registry names its metrics the same way (every worker has
/// `lector_worker_pages_voiced_total`), so every sample gets a `node` label, and each metric
/// family is described once, with all nodes' samples under it, as the format requires.
enum PrometheusMerge {
    static func merge(_ sources: [(node: String, text: String)]) -> String {
        var families: [String] = []
        var descriptions: [String: [String]] = [:]
        var samples: [String: [String]] = [:]
        for (node, text) in sources {
            var family: String?
            for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
                if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                    let parts = line.split(separator: " ", maxSplits: 3)
                    guard parts.count >= 3 else { continue }
                    let name = String(parts[2])
                    family = name
                    if descriptions[name] == nil {
                        families.append(name)
                        descriptions[name] = []
                    }
                    let kind = parts[1]
                    if !descriptions[name]!.contains(where: { $0.split(separator: " ")[1] == kind }) {
                        descriptions[name]!.append(String(line))
                    }
                } else if !line.hasPrefix("#") {
                    let name = family ?? String(line.prefix { $0 != "{" && $0 != " " })
                    if descriptions[name] == nil {
                        families.append(name)
                        descriptions[name] = []
                    }
                    samples[name, default: []].append(labelled(line, node: node))
                }
            }
        }
        var output = ""
        for name in families {
            for line in descriptions[name] ?? [] { output += line + "\n" }
            for line in samples[name] ?? [] { output += line + "\n" }
        }
        return output
    }

    /// `name{a="b"} 1` → `name{node="n",a="b"} 1`; `name 1` → `name{node="n"} 1`.
    static func labelled(_ line: Substring, node: String) -> String {
        let label = "node=\"\(escape(node))\""
        if let brace = line.firstIndex(of: "{"), brace < (line.firstIndex(of: " ") ?? line.endIndex) {
            let after = line.index(after: brace)
            let empty = line[after] == "}"
            return String(line[..<after]) + label + (empty ? "" : ",") + String(line[after...])
        }
        guard let space = line.firstIndex(of: " ") else { return String(line) }
        return String(line[..<space]) + "{" + label + "}" + String(line[space...])
    }

    static func escape(_ value: String) -> String {
        value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
    }
}
