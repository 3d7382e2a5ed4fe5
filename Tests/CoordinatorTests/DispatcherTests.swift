import ClusterTransport
import Foundation
import Testing

@testable import Coordinator

@Suite struct DispatcherTests {
    typealias TestDispatcher = Dispatcher<String>

    static func id(_ node: String) -> ClusterActorID {
        ClusterActorID(node: ClusterNode(name: node, host: "127.0.0.1", port: 1, incarnation: 1), path: "PageWorker-1")
    }

    static let policy = TestDispatcher.Policy(maxAttempts: 3, maxLosses: 3, backoff: .milliseconds(100))

    @Test func fillsFreeSlotsAndFencesStaleAnswers() {
        var dispatcher = TestDispatcher(policy: Self.policy)
        for page in 1...5 { dispatcher.enqueue(PageKey(book: 1, page: page)) }
        dispatcher.enqueue(PageKey(book: 1, page: 1))  // already queued: not twice
        #expect(dispatcher.queued == 5)
        dispatcher.join(Self.id("w1"), worker: "w1", node: "w1", capacity: 2)
        dispatcher.join(Self.id("w2"), worker: "w2", node: "w2", capacity: 1)
        let picks = dispatcher.pick()
        #expect(picks.count == 3)
        #expect(picks.filter { $0.node == "w1" }.count == 2)
        var leases: [PageKey: UUID] = [:]
        for pick in picks {
            leases[pick.key] = dispatcher.lease(pick.key, to: pick.worker, attempt: 1)!.token
        }
        #expect(dispatcher.pick().isEmpty)  // every slot is taken
        let key = picks[0].key
        #expect(dispatcher.settle(key, token: UUID()) == nil)  // not the current lease
        #expect(dispatcher.settle(key, token: leases[key]!) != nil)
        #expect(dispatcher.settle(key, token: leases[key]!) == nil)  // answered once only
        #expect(dispatcher.pick().count == 1)
    }

    static let joe = VoiceInfo(name: "joe", engine: "piper", language: "en", quality: "natural", sampleRate: 22050)
    static let espeak = ["en", "hi", "fr"].map {
        VoiceInfo(name: $0, engine: "espeak-ng", language: $0, quality: "fast", sampleRate: 22050)
    }

    @Test func naturalVoicePagesGoOnlyToWorkersWithTheVoice() {
        var dispatcher = TestDispatcher(policy: Self.policy)
        dispatcher.join(Self.id("plain"), worker: "plain", node: "plain", capacity: 4, voices: Self.espeak)
        dispatcher.join(Self.id("piper"), worker: "piper", node: "piper", capacity: 1, voices: [Self.joe] + Self.espeak)
        for page in 1...3 { dispatcher.enqueue(PageKey(book: 1, page: page), need: .natural(language: "en")) }
        for page in 1...3 { dispatcher.enqueue(PageKey(book: 2, page: page), need: .any) }
        dispatcher.enqueue(PageKey(book: 3, page: 1), need: .natural(language: "hi"))  // no natural Hindi voice
        let picks = dispatcher.pick()
        // The natural-voice worker takes an English page; the other takes every page it can voice.
        #expect(picks.filter { $0.node == "piper" }.map(\.key) == [PageKey(book: 1, page: 1)])
        #expect(Set(picks.filter { $0.node == "plain" }.map(\.key.book)) == [2, 3])
        #expect(picks.count == 5)
        for pick in picks { _ = dispatcher.lease(pick.key, to: pick.worker, attempt: 1) }
        // English pages wait for the natural-voice worker, even with free slots elsewhere.
        #expect(dispatcher.pick().isEmpty)
        #expect(dispatcher.queued == 2)
        let first = dispatcher.leases[PageKey(book: 1, page: 1)]!
        #expect(dispatcher.settle(PageKey(book: 1, page: 1), token: first.token) != nil)
        #expect(dispatcher.pick().map(\.node) == ["piper"])
    }

    @Test func aNeedNoWorkerMeetsIsServedByAnyAndARetryKeepsItsNeed() {
        var dispatcher = TestDispatcher(policy: Self.policy)
        dispatcher.join(Self.id("plain"), worker: "plain", node: "plain", capacity: 2, voices: Self.espeak)
        let key = PageKey(book: 1, page: 1)
        dispatcher.enqueue(key, need: .voice("joe"))
        var picks = dispatcher.pick()
        #expect(picks.map(\.node) == ["plain"])  // nobody has joe: espeak-ng rather than never
        let lease = dispatcher.lease(key, to: picks[0].worker, attempt: 1)!
        _ = dispatcher.settle(key, token: lease.token)
        // A natural-voice worker joins; the retry (enqueued without a need) goes to it.
        dispatcher.join(Self.id("piper"), worker: "piper", node: "piper", capacity: 1, voices: [Self.joe])
        dispatcher.enqueue(key)
        #expect(dispatcher.needs[key] == .voice("joe"))
        picks = dispatcher.pick()
        #expect(picks.map(\.node) == ["piper"])
        _ = dispatcher.lease(key, to: picks[0].worker, attempt: 2)
        dispatcher.finish(key)
        #expect(dispatcher.needs[key] != nil)  // still out: its need stays
        _ = dispatcher.settle(key, token: dispatcher.leases[key]!.token)
        dispatcher.finish(key)
        #expect(dispatcher.needs[key] == nil)
    }

    @Test func aNaturalWorkerTakesPlainPagesWhenNoNaturalOneWaits() {
        var dispatcher = TestDispatcher(policy: Self.policy)
        dispatcher.join(Self.id("piper"), worker: "piper", node: "piper", capacity: 2, voices: [Self.joe] + Self.espeak)
        for page in 1...3 { dispatcher.enqueue(PageKey(book: 1, page: page), need: .any) }
        #expect(dispatcher.pick().count == 2)
    }

    @Test func aPageNeedFollowsTheBooksChoicesAndItsLanguage() {
        let english = String(repeating: "The quick brown fox jumps over the lazy dog near the river bank. ", count: 4)
        let hindi = String(repeating: "यह एक छोटी सी कहानी है जो बहुत पुरानी है और सब लोग इसे जानते हैं। ", count: 4)
        #expect(
            VoiceNeed.of(voice: "joe", quality: "fast", language: nil, text: english, textSource: "pdf")
                == .voice("joe"))
        #expect(VoiceNeed.of(voice: nil, quality: "fast", language: nil, text: english, textSource: "pdf") == .any)
        #expect(
            VoiceNeed.of(voice: nil, quality: nil, language: nil, text: english, textSource: "pdf")
                == .natural(language: "en"))
        #expect(
            VoiceNeed.of(voice: nil, quality: "natural", language: nil, text: hindi, textSource: "pdf")
                == .natural(language: "hi"))
        #expect(
            VoiceNeed.of(voice: nil, quality: nil, language: "english", text: hindi, textSource: "pdf")
                == .natural(language: "en"))
        #expect(
            VoiceNeed.of(voice: nil, quality: nil, language: nil, text: "", textSource: "ocr")
                == .natural(language: nil))
        #expect(VoiceNeed.natural(language: nil).isMet(by: [Self.joe]))
        #expect(!VoiceNeed.natural(language: "hi").isMet(by: [Self.joe] + Self.espeak))
    }

    @Test func aWorkerThatLostAPageIsSentNothingForAWhile() {
        var dispatcher = TestDispatcher(policy: Self.policy)
        dispatcher.join(Self.id("dead"), worker: "dead", node: "dead", capacity: 4)
        dispatcher.join(Self.id("live"), worker: "live", node: "live", capacity: 1)
        for page in 1...3 { dispatcher.enqueue(PageKey(book: 1, page: page)) }
        let now = ContinuousClock.now
        dispatcher.pause(Self.id("dead"), until: now + .seconds(2))
        let first = dispatcher.pick(now: now)
        #expect(first.map(\.node) == ["live"])
        for pick in first { _ = dispatcher.lease(pick.key, to: pick.worker, attempt: 1) }
        #expect(dispatcher.pick(now: now + .seconds(1)).isEmpty)  // still paused, and live is full
        #expect(dispatcher.pick(now: now + .seconds(2)).map(\.node) == ["dead", "dead"])
    }

    @Test func forgettingABookDropsItsJobsAndLeases() {
        var dispatcher = TestDispatcher(policy: Self.policy)
        dispatcher.join(Self.id("w1"), worker: "w1", node: "w1", capacity: 1)
        dispatcher.enqueue(PageKey(book: 7, page: 1))
        dispatcher.enqueue(PageKey(book: 7, page: 2))
        let pick = dispatcher.pick()[0]
        let lease = dispatcher.lease(pick.key, to: pick.worker, attempt: 1)!
        dispatcher.forget(book: 7)
        #expect(dispatcher.queued == 0)
        #expect(dispatcher.inFlight == 0)
        #expect(dispatcher.settle(pick.key, token: lease.token) == nil)
        #expect(dispatcher.slot(Self.id("w1"))!.freeSlots == 1)
    }

    @Test func failuresRetryWithBackoffThenFail() {
        let policy = Self.policy
        #expect(
            policy.verdict(for: .failed, attempt: 1, losses: 0, message: "boom") == .retry(after: .milliseconds(100)))
        #expect(
            policy.verdict(for: .failed, attempt: 2, losses: 0, message: "boom") == .retry(after: .milliseconds(200)))
        #expect(policy.verdict(for: .failed, attempt: 3, losses: 0, message: "boom") == .fail("boom"))
    }

    @Test func lostWorkersCountAgainstTheirOwnBudget() {
        let policy = Self.policy
        #expect(policy.verdict(for: .lost, attempt: 1, losses: 1, message: "gone") == .requeue(after: .zero))
        #expect(policy.verdict(for: .lost, attempt: 1, losses: 2, message: "gone") == .requeue(after: .zero))
        #expect(
            policy.verdict(for: .lost, attempt: 1, losses: 3, message: "gone")
                == .fail("worker lost while voicing this page (3 times)"))
        // A refusal (draining, busy) costs nothing but waits a little, so it cannot spin.
        #expect(
            policy.verdict(for: .refused, attempt: 3, losses: 3, message: "busy") == .requeue(after: .milliseconds(100))
        )
    }

    @Test func connectionErrorsAreLossesAndWorkerErrorsAreFailures() {
        #expect(Coordinator.ending(of: ClusterError.connectionLost(node: "w", reason: "x")) == .lost)
        #expect(Coordinator.ending(of: ClusterError.unreachable(node: "w", reason: "x")) == .lost)
        #expect(Coordinator.ending(of: ClusterError.timedOut(target: "t", node: "w", after: .seconds(1))) == .failed)
        #expect(Coordinator.ending(of: PageJobRefused(worker: "w", reason: "busy")) == .refused)
        #expect(Coordinator.ending(of: PageTransferError(reason: "x")) == .failed)
    }

    @Test func longTextIsCutAtAWordWithANote() {
        let text = String(repeating: "word ", count: 1000)
        let cut = Coordinator.bounded(text, limit: 1001)
        #expect(cut.hasSuffix("longer than 1001 characters.]"))
        #expect(cut.unicodeScalars.count < 1001 + 100)
        #expect(Coordinator.bounded("short", limit: 1001) == "short")
    }
}

@Suite struct EventHubTests {
    static let gateway = DispatcherTests.id("gateway")

    @Test func replaysWithinTheEpochOnly() {
        var hub = EventHub<String>(epoch: 4)
        for name in ["a", "b", "c"] { _ = hub.record(book: 1, name: name, json: Data("{}".utf8)) }
        #expect(hub.replay(book: 1, after: EventCursor(epoch: 4, id: 1))?.map(\.name) == ["b", "c"])
        #expect(hub.replay(book: 1, after: EventCursor(epoch: 4, id: 3)) == [])
        // An id from before a restart, or one never handed out, needs a snapshot.
        #expect(hub.replay(book: 1, after: EventCursor(epoch: 3, id: 1)) == nil)
        #expect(hub.replay(book: 1, after: EventCursor(epoch: 4, id: 9)) == nil)
        #expect(hub.replay(book: 1, after: nil) == nil)
        #expect(EventCursor("4-2") == EventCursor(epoch: 4, id: 2))
        #expect(EventCursor("2") == nil)
        #expect(EventCursor("4-99999999999999999999999") == nil)
        #expect(EventCursor("-1-2") == nil)
    }

    @Test func deliversInOrderAndLetsClosedSubscribersGo() {
        var hub = EventHub<String>(epoch: 1)
        hub.subscribe(book: 1, id: Self.gateway, receiver: "sink")
        let first = hub.record(book: 1, name: "a", json: Data())
        #expect(first.start == [Self.gateway])
        let second = hub.record(book: 1, name: "b", json: Data())
        #expect(second.start.isEmpty)  // a delivery is already under way
        #expect(hub.nextBatch(book: 1, for: Self.gateway)?.events.map(\.name) == ["a", "b"])
        #expect(hub.nextBatch(book: 1, for: Self.gateway) == nil)
        _ = hub.record(book: 1, name: "book_deleted", json: Data())
        hub.close(book: 1)
        #expect(hub.nextBatch(book: 1, for: Self.gateway)?.events.map(\.name) == ["book_deleted"])
        #expect(hub.nextBatch(book: 1, for: Self.gateway) == nil)
        #expect(hub.subscriberCount == 0)
    }

    @Test func settledBooksKeepNoEventsButKeepCounting() {
        var hub = EventHub<String>(epoch: 1)
        for _ in 0..<100 { _ = hub.record(book: 1, name: "progress", json: Data("{}".utf8)) }
        hub.release(book: 1)
        #expect(hub.keptEvents == 0)
        #expect(hub.lastID(book: 1) == 100)
        #expect(hub.record(book: 1, name: "progress", json: Data()).event.id == 101)
    }
}
