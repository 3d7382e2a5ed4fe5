import Foundation
import Logging

enum LogSetup {
    /// Logs to stderr at `LOG_LEVEL` (default info), labelled by node so interleaved output of a dev
    /// cluster stays readable.
    static func bootstrap() {
        let level =
            ProcessInfo.processInfo.environment["LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:))
            ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
