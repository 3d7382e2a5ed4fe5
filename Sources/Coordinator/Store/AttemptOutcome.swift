/// What ending an attempt did: the verdict applied (nil when the answer was stale) and the
/// page's losses so far.
struct AttemptOutcome: Sendable {
    var verdict: Dispatcher<any PageSynthesizing>.Verdict?
    var losses: Int
}
