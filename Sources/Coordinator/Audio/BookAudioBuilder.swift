import Foundation

/// Joins a book's page MP3s into one file with chapters, with Debian's ffmpeg: the PDF outline's
/// chapters, or one per page when it has none.
///
/// The pages are copied, not re-encoded (they share one format), so a book of hundreds of pages
/// takes seconds. Chapter marks come from each page's frame count; ffmpeg writes them as ID3v2
/// CHAP frames, and a Xing header so players know the exact length.
struct BookAudioBuilder {
    struct Chapter: Equatable {
        var title: String
        var files: [URL]
    }

    /// The whole book's chapters: each outline chapter holds the pages from its first page to the
    /// next one's; pages before the first chapter open the book under its title. Without an
    /// outline, a chapter per page.
    static func chapters(outline: [BookChapter], pages: [(page: Int, file: URL)], bookTitle: String) -> [Chapter] {
        guard !outline.isEmpty else { return pages.map { Chapter(title: "Page \($0.page)", files: [$0.file]) } }
        var chapters: [Chapter] = []
        var last = Int.min
        for page in pages {
            // -1: before the first chapter.
            let index = outline.lastIndex { $0.page <= page.page } ?? -1
            if index == last {
                chapters[chapters.count - 1].files.append(page.file)
            } else {
                chapters.append(Chapter(title: index >= 0 ? outline[index].title : bookTitle, files: [page.file]))
                last = index
            }
        }
        return chapters
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
            var milliseconds = 0
            for file in chapter.files {
                let data = try Data(contentsOf: file, options: .alwaysMapped)
                milliseconds += Int((MP3Frames.duration(of: data) * 1000).rounded())
                list += "file '\(file.path.replacingOccurrences(of: "'", with: "'\\''"))'\n"
            }
            metadata += "[CHAPTER]\nTIMEBASE=1/1000\nSTART=\(start)\nEND=\(start + milliseconds)\n"
            metadata += "title=\(Self.escape(chapter.title))\n"
            start += milliseconds
        }
        let listFile = work.appendingPathComponent("pages.txt")
        let metadataFile = work.appendingPathComponent("chapters.txt")
        let temporary = work.appendingPathComponent("book.mp3")
        try list.write(to: listFile, atomically: false, encoding: .utf8)
        try metadata.write(to: metadataFile, atomically: false, encoding: .utf8)

        try Self.run([
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
            "-f", "concat", "-safe", "0", "-i", listFile.path, "-i", metadataFile.path,
            "-map", "0:a", "-map_metadata", "1", "-map_chapters", "1", "-c", "copy",
            "-id3v2_version", "3", "-write_xing", "1", temporary.path,
        ])
        try? FileManager.default.removeItem(at: output)
        try FileManager.default.moveItem(at: temporary, to: output)
    }

    /// The whole book as M4B (AAC in MP4, the audiobook format), from its MP3, chapters and title
    /// kept. Re-encoding takes a while (seconds per hour of speech), so it is made once and kept.
    static func m4b(from mp3: URL, to output: URL) throws {
        let work = output.deletingLastPathComponent().appendingPathComponent(
            workFolderPrefix + UUID().uuidString, isDirectory: true)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let temporary = work.appendingPathComponent("book.m4b")
        try run([
            "ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", mp3.path,
            "-map", "0:a", "-map_metadata", "0", "-map_chapters", "0", "-c:a", "aac", "-b:a", "48k",
            "-movflags", "+faststart", "-f", "ipod", temporary.path,
        ])
        try? FileManager.default.removeItem(at: output)
        try FileManager.default.moveItem(at: temporary, to: output)
    }

    private static func run(_ arguments: [String]) throws {
        let ffmpeg = Process()
        ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        ffmpeg.arguments = arguments
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
            throw BookAudioError.ffmpegFailed(String(decoding: message.prefix(2000), as: UTF8.self))
        }
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
