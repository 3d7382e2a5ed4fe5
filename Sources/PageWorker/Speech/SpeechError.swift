public enum SpeechError: Error, Sendable, Equatable, CustomStringConvertible {
    case initializationFailed
    case unknownVoice(String)
    case synthesisFailed(String)
    case encodingFailed(String)

    public var description: String {
        switch self {
        case .initializationFailed: "espeak-ng could not be initialised (is espeak-ng-data installed?)"
        case .unknownVoice(let name): "espeak-ng has no voice named '\(name)'"
        case .synthesisFailed(let detail): "speech synthesis failed: \(detail)"
        case .encodingFailed(let detail): "MP3 encoding failed: \(detail)"
        }
    }
}
