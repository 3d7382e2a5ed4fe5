import Foundation

/// Where an upload's PDF is read: by a native helper process (nodes), so that poppler crashing on a
/// hostile file costs the upload or the page and never the coordinator, or in this process (tests).
enum UploadReader: Sendable {
    case local(PDFTextDocument)
    case helper(HelperPool, path: String, pageCount: Int)

    /// Opens the PDF, or says why it cannot be.
    static func open(_ url: URL, maxPages: Int, helpers: HelperPool?) async throws -> UploadReader {
        guard let helpers else {
            return .local(try PDFTextDocument.open(contentsOf: url, maxPages: maxPages))
        }
        let answer: Data
        do {
            answer = try await helpers.request(
                .inspect, NativeRequests.Document(pdf: url.path, maxPages: maxPages).encoded,
                deadline: .now + .seconds(120))
        } catch let failure as HelperPool.Failure {
            throw PDFError.damaged(failure.crashed ? "the PDF reader crashed on it" : failure.description)
        }
        switch NativeRequests.decodeInspection(answer) {
        case .success(let pages)?: return .helper(helpers, path: url.path, pageCount: pages)
        case .failure(let error)?: throw error
        case nil: throw PDFError.damaged("the PDF reader's answer could not be read")
        }
    }

    var pageCount: Int {
        switch self {
        case .local(let document): document.pageCount
        case .helper(_, _, let pageCount): pageCount
        }
    }

    func text(ofPage number: Int) async throws -> String {
        switch self {
        case .local(let document):
            return try document.text(ofPage: number)
        case .helper(let helpers, let path, _):
            do {
                let answer = try await helpers.request(
                    .text, NativeRequests.Document(pdf: path, page: number).encoded, deadline: .now + .seconds(60))
                return String(decoding: answer, as: UTF8.self)
            } catch let failure as HelperPool.Failure where failure.crashed {
                throw PDFError.damaged("the PDF reader crashed on page \(number)")
            } catch is HelperPool.Failure {
                throw PDFError.pageUnreadable(number)
            }
        }
    }

    /// The outline's chapters; none when it has no outline or it cannot be read (a book without
    /// chapters is still a book). What the helper says is checked: pages in order and in range,
    /// titles bounded.
    func chapters() async -> [BookChapter] {
        let found: [BookChapter]
        switch self {
        case .local(let document):
            found = document.chapters()
        case .helper(let helpers, let path, _):
            guard
                let answer = try? await helpers.request(
                    .outline, NativeRequests.Document(pdf: path).encoded, deadline: .now + .seconds(60)),
                answer.count <= 1 << 20,
                let decoded = try? JSONDecoder().decode([BookChapter].self, from: answer)
            else { return [] }
            found = decoded
        }
        var chapters: [BookChapter] = []
        for chapter in found.prefix(PDFTextDocument.maxOutlineEntries)
        where (1...pageCount).contains(chapter.page) && chapter.page > (chapters.last?.page ?? 0) {
            let title = String(chapter.title.prefix(PDFTextDocument.maxChapterTitle))
            if !title.isEmpty { chapters.append(BookChapter(title: title, page: chapter.page)) }
        }
        return chapters
    }
}
