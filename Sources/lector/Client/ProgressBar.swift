import Foundation

/// A one-line progress bar on stderr: redrawn in place on a terminal, printed at every tenth
/// otherwise (so a log file gets a few lines, not hundreds).
struct ProgressBar {
    let title: String
    let width = 30
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var lastDecile = -1
    private var drawn = false

    init(title: String) {
        self.title = title
    }

    mutating func update(done: Int, total: Int, detail: String = "") {
        let fraction = total > 0 ? min(1, Double(done) / Double(total)) : 0
        let filled = Int((fraction * Double(width)).rounded(.down))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
        let line = "\(title) \(bar) \(done)/\(total) \(Int(fraction * 100))%\(detail.isEmpty ? "" : "  \(detail)")"
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            drawn = true
        } else {
            let decile = Int(fraction * 10)
            guard decile != lastDecile else { return }
            lastDecile = decile
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// Ends the line the bar was drawn on.
    mutating func finish() {
        if isTerminal && drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        drawn = false
    }
}
