/// What a page asks of the worker that voices it, so the dispatcher sends it only where its voice is.
///
/// A need no worker in the cluster can meet is met by any worker: a natural voice is a preference
/// the cluster honours when it can (a Hindi page asked for `natural` is voiced by espeak-ng), and
/// a named voice nobody has falls back on the worker's espeak-ng voice for its language.
enum VoiceNeed: Hashable, Sendable {
    /// espeak-ng will do: every worker has it.
    case any
    /// A voice by name (`joe`, `en-us`).
    case voice(String)
    /// A natural voice for this language; nil for "any natural voice" (a scan, whose language is
    /// known only once it is read).
    case natural(language: String?)

    /// The need of a page, from its book's choices and, for a text layer, its text.
    static func of(
        voice: String?, quality: String?, language: String?, text: String, textSource: String
    ) -> VoiceNeed {
        if let voice = voice?.trimmingCharacters(in: .whitespaces), !voice.isEmpty { return .voice(voice) }
        if quality == "fast" { return .any }
        if let named = VoiceChoice.languageCode(language) { return .natural(language: named) }
        guard textSource == "pdf" else { return .natural(language: nil) }
        let job = PageJob(
            bookId: 0, pageNumber: 1, totalPages: 1, attempt: 0, lease: .init(), text: text, voice: nil,
            language: nil)
        return .natural(language: VoiceChoice.choose(for: job, identified: nil).language)
    }

    /// Whether a worker with these voices meets the need.
    func isMet(by voices: [VoiceInfo]) -> Bool {
        switch self {
        case .any: true
        case .voice(let name): voices.contains { $0.name == name }
        case .natural(let language):
            voices.contains { $0.quality == "natural" && (language == nil || $0.language == language) }
        }
    }
}
