import Foundation

/// Why audio could not be written; the page goes back to the queue with backoff.
enum AudioStoreError: Error, CustomStringConvertible {
    case write(String)

    var description: String {
        switch self {
        case .write(let detail): "the audio could not be stored: \(detail)"
        }
    }
}
