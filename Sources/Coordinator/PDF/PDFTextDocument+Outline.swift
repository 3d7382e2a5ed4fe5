import CPoppler
import Foundation

/// A chapter as the PDF's outline (its bookmarks) names it: a title and the page it starts on.
public struct BookChapter: Codable, Sendable, Equatable {
    public var title: String
    public var page: Int

    public init(title: String, page: Int) {
        self.title = title
        self.page = page
    }
}

extension PDFTextDocument {
    /// At most this many outline entries are visited (a hostile outline can loop or be huge).
    static let maxOutlineEntries = 2000
    static let maxOutlineDepth = 8
    /// Titles are cut to this many characters.
    static let maxChapterTitle = 200

    /// The chapters the outline gives, in reading order: entries of any depth that lead to a page
    /// of this document, each starting after the one before (an entry on the same page as an
    /// earlier one, or before it, is not a new chapter). Empty when the PDF has no outline.
    public func chapters() -> [BookChapter] {
        var pageOfIndex: [Int32: Int] = [:]
        for (offset, index) in popplerIndex.enumerated() {
            if let index, pageOfIndex[index] == nil { pageOfIndex[index] = offset + 1 }
        }
        let entries: [(title: String, popplerPage: Int32)] = handles.withLock { handles in
            guard let root = poppler_index_iter_new(handles.document) else { return [] }
            defer { poppler_index_iter_free(root) }
            var found: [(String, Int32)] = []
            var visited = 0
            Self.walk(root, depth: 0, document: handles.document, visited: &visited, into: &found)
            return found
        }
        var chapters: [BookChapter] = []
        for entry in entries {
            guard let page = pageOfIndex[entry.popplerPage] else { continue }
            let title = entry.title.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            guard !title.isEmpty, page > (chapters.last?.page ?? 0) else { continue }
            chapters.append(BookChapter(title: String(title.prefix(Self.maxChapterTitle)), page: page))
        }
        return chapters
    }

    /// Depth first, bounded in depth and in entries visited.
    private static func walk(
        _ iterator: OpaquePointer, depth: Int, document: OpaquePointer, visited: inout Int,
        into found: inout [(String, Int32)]
    ) {
        repeat {
            visited += 1
            guard visited <= maxOutlineEntries else { return }
            if let action = poppler_index_iter_get_action(iterator) {
                if let entry = destination(of: action, document: document) { found.append(entry) }
                poppler_action_free(action)
            }
            if depth + 1 < maxOutlineDepth, let child = poppler_index_iter_get_child(iterator) {
                walk(child, depth: depth + 1, document: document, visited: &visited, into: &found)
                poppler_index_iter_free(child)
            }
        } while visited <= maxOutlineEntries && poppler_index_iter_next(iterator) != 0
    }

    /// The title and poppler page index of a go-to entry; named destinations are looked up.
    private static func destination(of action: UnsafeMutablePointer<PopplerAction>, document: OpaquePointer)
        -> (String, Int32)?
    {
        guard action.pointee.type == POPPLER_ACTION_GOTO_DEST, let title = action.pointee.any.title,
            let dest = action.pointee.goto_dest.dest
        else { return nil }
        let name = String(cString: title)
        if dest.pointee.type == POPPLER_DEST_NAMED {
            guard let named = dest.pointee.named_dest, let found = poppler_document_find_dest(document, named)
            else { return nil }
            defer { poppler_dest_free(found) }
            return found.pointee.page_num > 0 ? (name, found.pointee.page_num - 1) : nil
        }
        return dest.pointee.page_num > 0 ? (name, dest.pointee.page_num - 1) : nil
    }
}
