import Foundation
import NIOCore
import NIOEmbedded
import Testing

@testable import ClusterTransport

@Suite("Frames and envelopes")
struct WireTests {
    static let node = ClusterNode(name: "n1", host: "127.0.0.1", port: 7001, incarnation: 42)

    static let samples: [Envelope] = [
        .hello(Hello(node: node, role: "worker", state: ByteBuffer(string: "{}"))),
        .welcome(Hello(node: node, role: "gateway", state: ByteBuffer())),
        .call(
            Call(
                id: 7, recipientPath: "coordinator", recipientIncarnation: 9,
                target: "$s4main7GreeterC5greetyS2SYaKFTE",
                genericSubstitutions: ["Si"], arguments: [ByteBuffer(string: "\"Ada\""), ByteBuffer()])),
        .reply(Reply(callID: 7, outcome: .value(ByteBuffer(string: "\"hi\"")))),
        .reply(Reply(callID: 8, outcome: .void)),
        .reply(
            Reply(
                callID: 9,
                outcome: .failure(
                    RemoteFailure(
                        kind: .thrown, typeName: "M.E", message: "boom", payload: ByteBuffer(string: "{}"))))),
        .reply(
            Reply(
                callID: 10,
                outcome: .failure(RemoteFailure(kind: .unknownActor, typeName: "", message: "gone")))),
        .ping(Ping(sequence: 1, knownStateVersion: 3)),
        .pong(Pong(sequence: 1, stateVersion: 4, state: ByteBuffer(string: "{\"x\":1}"))),
        .pong(Pong(sequence: 2, stateVersion: 4, state: nil)),
        .leaving(node),
        .swim(SWIMPacket(kind: .ping, sequence: 5, gossip: [])),
        .swim(
            SWIMPacket(
                kind: .pingRequest, sequence: 6, target: "worker-3",
                gossip: [
                    .init(
                        node: node, role: "worker", incarnation: 1_700_000_000_000, status: 1, stateVersion: 4,
                        keys: ["page-worker", "x"]),
                    .init(node: node, role: "gateway", incarnation: 2, status: 2),
                ])),
        .swim(
            SWIMPacket(
                kind: .syncReply, sequence: 0, gossip: [.init(node: node, role: "worker", incarnation: 3, status: 0)])),
    ]

    /// A change carries at most 64 entries, a member list (`sync`) at most a node's bound of
    /// members: one more is refused whole, before it is taken in.
    @Test func swimPacketsAreBoundedByTheirKind() throws {
        let entry = SWIMPacket.Gossip(node: Self.node, role: "worker", incarnation: 1, status: 0)
        func decodes(_ kind: SWIMPacket.Kind, entries: Int) -> Bool {
            var buffer = ByteBuffer()
            Envelope.swim(SWIMPacket(kind: kind, sequence: 1, gossip: Array(repeating: entry, count: entries)))
                .encode(into: &buffer)
            return (try? Envelope(decoding: &buffer)) != nil
        }
        #expect(decodes(.ping, entries: SWIMPacket.maximumGossip))
        #expect(!decodes(.ping, entries: SWIMPacket.maximumGossip + 1))
        #expect(decodes(.sync, entries: 300))
        #expect(decodes(.sync, entries: SWIMPacket.maximumSyncEntries))
        #expect(!decodes(.sync, entries: SWIMPacket.maximumSyncEntries + 1))
    }

    @Test(arguments: samples)
    func envelopeRoundTrips(_ envelope: Envelope) throws {
        var buffer = ByteBuffer()
        envelope.encode(into: &buffer)
        #expect(try Envelope(decoding: &buffer) == envelope)
    }

    @Test func truncatedAndPaddedEnvelopesAreRejected() throws {
        for envelope in Self.samples {
            var buffer = ByteBuffer()
            envelope.encode(into: &buffer)
            for cut in 0..<buffer.readableBytes {
                var truncated = buffer.getSlice(at: 0, length: cut)!
                #expect(throws: EnvelopeError.self) { try Envelope(decoding: &truncated) }
            }
            var padded = buffer
            padded.writeInteger(UInt8(0))
            #expect(throws: EnvelopeError.trailingBytes(1)) { try Envelope(decoding: &padded) }
        }
        var unknown = ByteBuffer(bytes: [200])
        #expect(throws: EnvelopeError.unknownTag(200)) { try Envelope(decoding: &unknown) }
    }

    @Test func randomBytesNeverCrashTheDecoder() {
        var random = SeededGenerator(seed: 0x5eed)
        var decoded = 0
        for _ in 0..<50_000 {
            let length = Int.random(in: 0..<64, using: &random)
            var buffer = ByteBuffer(
                bytes: (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) })
            if (try? Envelope(decoding: &buffer)) != nil { decoded += 1 }
        }
        #expect(decoded < 50_000)
    }

    @Test func framesAreSplitAndJoinedAcrossReads() throws {
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(FrameDecoder(maximumFrameSize: 1024)))
        var stream = ByteBuffer()
        for payload in ["one", "", "three"] {
            stream.writeInteger(UInt32(payload.utf8.count))
            stream.writeString(payload)
        }
        // Feed byte by byte: no frame may come out early or twice.
        while let byte = stream.readSlice(length: 1) {
            try channel.writeInbound(byte)
        }
        var frames: [String] = []
        while let frame = try channel.readInbound(as: ByteBuffer.self) {
            frames.append(String(buffer: frame))
        }
        #expect(frames == ["one", "", "three"])
        #expect(try channel.finish().isClean)
    }

    @Test func oversizedFrameIsAnErrorBeforeItsPayloadArrives() throws {
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(FrameDecoder(maximumFrameSize: 16)))
        var header = ByteBuffer()
        header.writeInteger(UInt32(17))
        #expect(throws: FrameError.frameTooLarge(size: 17, limit: 16)) {
            try channel.writeInbound(header)
        }
        _ = try? channel.finish()
    }

    @Test func truncatedFrameAtCloseIsAnError() throws {
        let channel = EmbeddedChannel(
            handler: ByteToMessageHandler(FrameDecoder(maximumFrameSize: 1024)))
        var partial = ByteBuffer()
        partial.writeInteger(UInt32(10))
        partial.writeString("abc")
        try channel.writeInbound(partial)
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(throws: FrameError.truncatedFrame(bufferedBytes: 7)) { _ = try channel.finish() }
    }

    @Test func encoderPrefixesLengthAndRefusesOversizedFrames() throws {
        let channel = EmbeddedChannel(handler: EnvelopeCodec(maximumFrameSize: 64))
        let small = Envelope.reply(Reply(callID: 7, outcome: .value(ByteBuffer(string: "hey"))))
        try channel.writeOutbound(small)
        var out = try #require(try channel.readOutbound(as: ByteBuffer.self))
        let length = out.readInteger(as: UInt32.self) ?? 0
        #expect(Int(length) == out.readableBytes)
        let decoded = try Envelope(decoding: &out)
        #expect(decoded == small)
        let large = Envelope.reply(Reply(callID: 8, outcome: .value(ByteBuffer(repeating: 1, count: 100))))
        #expect(throws: FrameError.self) { try channel.writeOutbound(large) }
        #expect(try channel.readOutbound(as: ByteBuffer.self) == nil)
        _ = try? channel.finish()
    }
}

/// SplitMix64: a small deterministic generator so fuzz runs repeat exactly.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension Envelope: CustomTestStringConvertible {
    public var testDescription: String { "\(self)".prefix(60).description }
}
