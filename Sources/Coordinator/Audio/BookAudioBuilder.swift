import Foundation

/// Joins a book's page MP3s into one file with a chapter per page, with Debian's ffmpeg.
///
/// The pages are copied, not re-encoded (they share one format), so a book of hundreds of pages
/// takes seconds. Chapter marks come from each page's frame count; ffmpeg writes them as ID3v2
/// CHAP frames, and a Xing header so players know the exact length.
struct BookAudioBuilder {
    struct Chapter {
        var title: String
        var file: URL
    }

    var title: String
    var chapters: [Chapter]

    /// The work folders' names start with this; `AudioStore` removes leftovers at start.
    static let workFolderPrefix = ".book-"

    /// Builds into a temporary file beside `output` and renames it into place. Blocks its thread.
    func build(to output: URL) throws {
        let folder = output.deletingLastPathComponent()
        let work = folder.appendingPathComponent(Self.workFolderPrefix + UUID().uuidString, isDirectory: true)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        var list = ""
        var metadata = ";FFMETADATA1\ntitle=\(Self.escape(title))\n"
        var start = 0
        for chapter in chapters {
            let data = try Data(contentsOf: chapter.file, options: .alwaysMapped)
            let milliseconds = Int((MP3Frames.duration(of: data) * 1000).rounded())
            list += "file '\(chapter.file.path.replacingOccurrences(of: "'", with: "'\\''"))'\n"
            metadata += "[CHAPTER]\nTIMEBASE=1/1000\nSTART=\(start)\nEND=\(start + milliseconds)\n"
            metadata += "title=\(Self.escape(chapter.title))\n"
            start += milliseconds
        }
        let listFile = work.appendingPathComponent("pages.txt")
        let metadataFile = work.appendingPathComponent("chapters.txt")
        let temporary = work.appendingPathComponent("book.mp3")
        try list.write(to: listFile, atomically: false, encoding: .utf8)
        try metadata.write(to: metadataFile, atomically: false, encoding: .utf8)

        let ffmpeg = Process()
        ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        ffmpeg.arguments = [
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "concat", "-safe", "0", "-i", listFile.path, "-i", metadataFile.path,
            "-map", "0:a", "-map_metadata", "1", "-map_chapters", "1", "-c", "copy",
            "-id3v2_version", "3", "-write_xing", "1", temporary.path,
        ]
        let errors = Pipe()
        ffmpeg.standardError = errors
        ffmpeg.standardOutput = FileHandle.nullDevice
        do {
            try ffmpeg.run()
        } catch {
            throw BookAudioError.ffmpegMissing("\(error)")
        }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        ffmpeg.waitUntilExit()
        guard ffmpeg.terminationStatus == 0 else {
            throw BookAudioError.ffmpegFailed(String(decoding: message, as: UTF8.self))
        }
        try? FileManager.default.removeItem(at: output)
        try FileManager.default.moveItem(at: temporary, to: output)
    }

    /// ffmetadata's escapes: `=`, `;`, `#`, `\` and newlines take a backslash.
    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if "=;#\\\n".contains(character) { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}

enum BookAudioError: Error, CustomStringConvertible {
    case ffmpegMissing(String)
    case ffmpegFailed(String)

    var description: String {
        switch self {
        case .ffmpegMissing(let detail): "ffmpeg could not be started (install Debian's ffmpeg): \(detail)"
        case .ffmpegFailed(let detail): "ffmpeg could not join the pages: \(detail)"
        }
    }
}
