public enum SpeechError: Error, Sendable, Equatable, CustomStringConvertible {
    case initializationFailed
    case unknownVoice(String)
    case synthesisFailed(String)
    case encodingFailed(String)
    /// The job's lease ran out first; the work was given up.
    case abandoned

    public var description: String {
        switch self {
        case .initializationFailed: "espeak-ng could not be initialised (is espeak-ng-data installed?)"
        case .unknownVoice(let name): "espeak-ng has no voice named '\(name)'"
        case .synthesisFailed(let detail): "speech synthesis failed: \(detail)"
        case .encodingFailed(let detail): "MP3 encoding failed: \(detail)"
        case .abandoned:
            "the job's lease ran out (or its caller gave up) before the page was voiced; the worker gave it up"
        }
    }
}
