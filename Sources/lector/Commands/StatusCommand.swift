import ArgumentParser
import Foundation

/// `lector status ID`: one book's progress.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Print a book's status.")

    @Argument(help: "The book's id.") var id: Int
    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await runClient {
            let status = (try await options.client.json("/api/books/\(id)/status/")) as? [String: Any] ?? [:]
            let pages = status["pages_status"] as? [String: Any] ?? [:]
            print("Book \(id) “\(status["title"] as? String ?? "")”")
            print(
                "  status:     \(status["processing_status"] as? String ?? "?") (\(status["processing_progress"] as? Int ?? 0)%)"
            )
            print(
                "  pages:      \(status["total_pages"] as? Int ?? 0) — completed \(pages["completed"] as? Int ?? 0), processing \(pages["processing"] as? Int ?? 0), pending \(pages["pending"] as? Int ?? 0), failed \(pages["failed"] as? Int ?? 0)"
            )
            print(
                "  with audio: \(status["pages_with_audio"] as? Int ?? 0); audio ready: \((status["audio_ready"] as? Bool ?? false) ? "yes" : "no")"
            )
            print("  remaining:  \(status["estimated_time_remaining"] as? String ?? "")")
            let position = (try await options.client.json("/api/books/\(id)/position/")) as? [String: Any] ?? [:]
            if position["updated_at"] is String {
                let seconds = Int((position["seconds"] as? Double ?? 0).rounded(.down))
                print(
                    "  listening:  page \(position["page"] as? Int ?? 1) at \(seconds / 60):\(String(format: "%02d", seconds % 60))"
                )
            } else {
                print("  listening:  not started")
            }
        }
    }
}

/// `lector books`: every book, newest first.
struct BooksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "books", abstract: "List the books.")

    @OptionGroup var options: ClientOptions

    func run() async throws {
        try await runClient {
            let books = (try await options.client.json("/api/books/")) as? [[String: Any]] ?? []
            guard !books.isEmpty else {
                print("No books yet.")
                return
            }
            print("ID     PAGES  STATUS       PROGRESS  TITLE")
            for book in books {
                let id = String(book["id"] as? Int ?? 0).padding(toLength: 6, withPad: " ", startingAt: 0)
                let pages = String(book["total_pages"] as? Int ?? 0).padding(toLength: 6, withPad: " ", startingAt: 0)
                let status = (book["processing_status"] as? String ?? "").padding(
                    toLength: 12, withPad: " ", startingAt: 0)
                let progress = "\(book["processing_progress"] as? Int ?? 0)%".padding(
                    toLength: 9, withPad: " ", startingAt: 0)
                print("\(id) \(pages) \(status) \(progress) \(book["title"] as? String ?? "")")
            }
        }
    }
}
