import Foundation
import Testing

@testable import Coordinator

/// The table of pages whose audio is being made: which attempt a listener may read, and when the
/// start of a file may still change.
@Suite struct LiveAudioTests {
    let store = FileAudioStore(
        directory: FileManager.default.temporaryDirectory.appendingPathComponent("live-\(UUID().uuidString)").path)

    @Test func aListenedPageRemembersItsAttemptAndANewAttemptReplacesTheOld() throws {
        var live = LiveAudio()
        let key = PageKey(book: 1, page: 1)
        let first = UUID()
        let firstFile = try store.beginWrite(book: 1, page: 1)
        #expect(live.begin(key, attempt: first, file: firstFile) == nil)
        try firstFile.append(Data("abc".utf8))
        #expect(try firstFile.read(offset: 1, length: 10) == Data("bc".utf8))
        #expect(live.entry(key, attempt: UUID()) == nil)  // another attempt's name reads nothing

        // A retry replaces the failed attempt's file (returned for removal).
        let second = UUID()
        let secondFile = try store.beginWrite(book: 1, page: 1)
        #expect(live.begin(key, attempt: second, file: secondFile) === firstFile)
        #expect(live.entry(key, attempt: first) == nil)
        #expect(live.entry(key, attempt: second)?.startServed == false)
        live.markServed(key, offset: LiveAudio.startBytes)  // past the start: it may still change
        #expect(live.entry(key, attempt: second)?.startServed == false)
        live.markServed(key, offset: 0)
        #expect(live.entry(key, attempt: second)?.startServed == true)
        #expect(live.end(key, attempt: first, completed: true) == nil)  // not the current attempt
        #expect(live.end(key, attempt: second, completed: true) === secondFile)
        #expect(live.finishedAttempt(key) == second)
        live.forget(book: 1)
        #expect(live.finishedAttempt(key) == nil)
        store.discard(firstFile)
        store.discard(secondFile)
    }

    @Test func aPageNobodyListenedToIsNotRemembered() throws {
        var live = LiveAudio()
        let key = PageKey(book: 2, page: 3)
        let attempt = UUID()
        let file = try store.beginWrite(book: 2, page: 3)
        _ = live.begin(key, attempt: attempt, file: file)
        live.markComplete(key, attempt: attempt)
        #expect(live.entry(key, attempt: attempt)?.complete == true)
        _ = live.end(key, attempt: attempt, completed: true)
        #expect(live.finishedAttempt(key) == nil)
        #expect(live.entries.isEmpty)
        store.discard(file)
    }

    @Test func theStartOfAFileCanBeRewrittenInPlace() throws {
        let file = try store.beginWrite(book: 3, page: 1)
        try file.append(Data("placeholder+audio".utf8))
        try file.overwrite(at: 0, with: Data("PLACEHOLDER".utf8))
        try file.append(Data("+more".utf8))
        #expect(try file.read(offset: 0, length: 100) == Data("PLACEHOLDER+audio+more".utf8))
        #expect(throws: AudioStoreError.self) { try file.overwrite(at: 20, with: Data("too far".utf8)) }
        store.discard(file)
    }
}
