import Coordinator
import Foundation
import Logging
import Testing

@testable import PageWorker

/// Decodes an MP3 with ffprobe and returns its duration in seconds.
func probeDuration(_ mp3: Data) throws -> Double {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
        "probe-\(UUID().uuidString).mp3")
    try mp3.write(to: url)
    defer { try? FileManager.default.removeItem(at: url) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/ffprobe")
    process.arguments = [
        "-v", "error", "-show_entries", "format=duration:stream=codec_name,channels", "-of",
        "default=nw=1", url.path,
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    process.waitUntilExit()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    guard process.terminationStatus == 0, output.contains("codec_name=mp3"),
        output.contains("channels=1"),
        let line = output.split(separator: "\n").first(where: { $0.hasPrefix("duration=") }),
        let seconds = Double(line.dropFirst("duration=".count))
    else { throw SpeechError.encodingFailed("ffprobe could not decode: \(output)") }
    return seconds
}

@Suite("espeak-ng and LAME", .serialized)
struct SpeechTests {
    let english = String(repeating: "Lector reads books aloud, one page at a time. ", count: 6)
    let hindi = String(repeating: "घर जमाई हरिधन को ससुराल में रहते हुए बहुत दिन हो गए थे। ", count: 4)

    @Test func englishAndHindiBecomeMonoMP3sOfTheRightLength() async throws {
        for (text, voice) in [(english, "en"), (hindi, "hi")] {
            let pcm = try await SpeechSynthesizer.shared.synthesize(text, voice: voice)
            #expect(pcm.sampleRate == 22050)
            #expect(pcm.duration > 5 && pcm.duration < 60, "\(voice): \(pcm.duration) s")
            let mp3 = try await MP3Encoder.encode(pcm)
            let decoded = try probeDuration(mp3)
            #expect(
                abs(decoded - pcm.duration) < 0.5,
                "\(voice): decoded \(decoded) s, synthesised \(pcm.duration) s")
            // 48 kb/s: about 6 KB a second.
            #expect(Double(mp3.count) / pcm.duration > 4000 && Double(mp3.count) / pcm.duration < 8000)
        }
    }

    @Test func concurrentSynthesisIsSerialisedAndKeepsEachLength() async throws {
        let alone = try await SpeechSynthesizer.shared.synthesize(english, voice: "en").duration
        let short = try await SpeechSynthesizer.shared.synthesize("Hello.", voice: "en").duration
        let durations = try await withThrowingTaskGroup(of: (Int, Double).self) { group in
            for index in 0..<6 {
                group.addTask {
                    let text = index.isMultiple(of: 2) ? english : "Hello."
                    return (index, try await SpeechSynthesizer.shared.synthesize(text, voice: "en").duration)
                }
            }
            return try await group.reduce(into: [Int: Double]()) { $0[$1.0] = $1.1 }
        }
        for (index, duration) in durations {
            let expected = index.isMultiple(of: 2) ? alone : short
            #expect(abs(duration - expected) < 0.3, "task \(index): \(duration) vs \(expected)")
        }
    }

    @Test func parallelEncodesAreAllValid() async throws {
        let pcm = try await SpeechSynthesizer.shared.synthesize(english, voice: "en")
        let files = try await withThrowingTaskGroup(of: Data.self) { group in
            for _ in 0..<4 { group.addTask { try await MP3Encoder.encode(pcm) } }
            return try await group.reduce(into: [Data]()) { $0.append($1) }
        }
        #expect(files.count == 4)
        #expect(Set(files).count == 1)
        #expect(abs(try probeDuration(files[0]) - pcm.duration) < 0.5)
    }

    @Test func unknownVoiceIsAnError() async throws {
        await #expect(throws: SpeechError.unknownVoice("xx-nonexistent")) {
            _ = try await SpeechSynthesizer.shared.synthesize("hello", voice: "xx-nonexistent")
        }
        #expect(await SpeechSynthesizer.shared.hasVoice("hi"))
        #expect(await !SpeechSynthesizer.shared.hasVoice("xx-nonexistent"))
    }
}
