import Coordinator
import Foundation
import Hummingbird
import MultipartKit

/// Reads an upload's body as it arrives and passes the PDF on to the coordinator in chunks, so the
/// gateway never holds more than a chunk of it.
///
/// Accepts multipart/form-data (file in `file` or `pdf_file`, with `title`, `author`, `language`,
/// `voice` fields in any order) or a raw `application/pdf` body with the fields in the query.
struct UploadReceiver {
    struct Received {
        var uploadId: String
        var bytes: Int
        var metadata: UploadMetadata
    }

    static let chunkSize = 1 << 20
    static let fileFields: Set<String> = ["file", "pdf_file"]
    static let textFields: Set<String> = ["title", "author", "language", "voice", "quality"]

    let client: CoordinatorClient
    let limits: UploadLimits
    var maxBytes: Int { limits.maxBodyBytes }

    private var uploadId: String?
    private var pending = ByteBuffer()
    /// Bytes of the PDF itself.
    private var bytes = 0
    /// Bytes of the whole body, which the limit is about.
    private var bodyBytes = 0
    private var checkedSignature = false

    init(client: CoordinatorClient, limits: UploadLimits) {
        self.client = client
        self.limits = limits
    }

    /// Counts a piece of the body against the limit before anything reads it.
    private mutating func count(_ buffer: ByteBuffer) throws {
        bodyBytes += buffer.readableBytes
        guard bodyBytes <= maxBytes else { throw Self.tooLarge(maxBytes) }
    }

    /// Streams the body to the coordinator. On any error the partial upload is dropped.
    mutating func receive(_ request: Request) async throws -> Received {
        do {
            return try await receiveBody(request)
        } catch let error as APIError {
            await abort()
            throw error
        } catch {
            // Anything else came from reading the body itself: a bad chunk size, a connection
            // that ended before its Content-Length. The client's fault, not the server's.
            await abort()
            throw APIError(
                .badRequest, code: "bad_body", "The request body could not be read: it is malformed or ended early.")
        }
    }

    mutating func abort() async {
        guard let uploadId else { return }
        self.uploadId = nil
        _ = try? await client.call { try await $0.abortUpload(uploadId) }
    }

    private mutating func receiveBody(_ request: Request) async throws -> Received {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maxBytes {
            throw Self.tooLarge(maxBytes)
        }
        let contentType = request.headers[.contentType]?.lowercased() ?? ""
        var metadata = UploadMetadata()
        let query = request.uri.queryParameters
        metadata.title = query.get("title")
        metadata.author = query.get("author")
        metadata.language = query.get("language")
        metadata.voice = query.get("voice")
        metadata.quality = query.get("quality")
        metadata.filename = query.get("filename")
        // Parameters in the query are known before the body: refuse bad ones before spooling anything.
        try validate(metadata)

        if contentType.hasPrefix("multipart/form-data") {
            // RFC 2046: 1 to 70 characters. MultipartKit traps on an empty one.
            guard let boundary = Self.boundary(in: request.headers[.contentType] ?? ""),
                (1...70).contains(boundary.utf8.count)
            else {
                throw APIError.badRequest("The multipart body needs a boundary of 1 to 70 characters.")
            }
            try await receiveMultipart(request.body, boundary: boundary, metadata: &metadata)
        } else if contentType.isEmpty || contentType.hasPrefix("application/pdf")
            || contentType.hasPrefix("application/octet-stream") || contentType.hasPrefix("application/x-pdf")
        {
            for try await buffer in request.body {
                try count(buffer)
                try await accept(buffer)
            }
        } else {
            throw APIError(
                .unsupportedMediaType, code: "not_a_pdf",
                "Send the PDF as multipart/form-data (field 'file' or 'pdf_file') or as an application/pdf body; got \(contentType)."
            )
        }
        try await flush()
        guard let uploadId, bytes > 0 else {
            throw APIError(
                .badRequest, code: "missing_file",
                "No PDF in the request: send it as multipart field 'file' (or 'pdf_file') or as an application/pdf body."
            )
        }
        try validate(metadata)
        return Received(uploadId: uploadId, bytes: bytes, metadata: metadata)
    }

    private mutating func receiveMultipart(_ body: RequestBody, boundary: String, metadata: inout UploadMetadata)
        async throws
    {
        let parser = MultipartParser(boundary: boundary)
        let state = MultipartState()
        let maxFieldBytes = 4 * (limits.maxFieldCharacters.values.max() ?? 500)
        parser.onHeader = { name, value in
            state.heard = true
            guard name.lowercased() == "content-disposition" else { return }
            state.field = Self.parameter("name", in: value)
            state.filename = Self.parameter("filename", in: value)
        }
        parser.onBody = { buffer in
            state.heard = true
            guard let field = state.field else { return }
            if Self.fileFields.contains(field) {
                if !state.inFile {
                    state.inFile = true
                    state.fileParts += 1
                }
                if state.filename != nil { state.fileName = state.filename }
                state.file.writeBuffer(&buffer)
            } else if Self.textFields.contains(field) {
                // Raw bytes, decoded once the field is whole: a character split across two reads
                // stays one character.
                state.values[field, default: ByteBuffer()].writeBuffer(&buffer)
                if state.values[field]!.readableBytes > maxFieldBytes { state.overlong = field }
            }
        }
        parser.onPartComplete = {
            state.heard = true
            state.field = nil
            state.filename = nil
            state.inFile = false
        }
        var silent = 0
        // The last bytes of the body: a multipart body must end with its closing delimiter, or
        // it was cut off and its last part cannot be trusted.
        var tail = [UInt8]()
        let closing = Array("--\(boundary)--".utf8)
        for try await buffer in body {
            try count(buffer)
            tail += buffer.readableBytesView.suffix(closing.count + 8)
            if tail.count > closing.count + 8 { tail.removeFirst(tail.count - closing.count - 8) }
            state.heard = false
            do {
                try parser.execute(buffer)
            } catch {
                throw APIError.badRequest("The multipart body is malformed.")
            }
            silent = state.heard ? 0 : silent + buffer.readableBytes
            guard silent <= limits.maxPartHeaderBytes else {
                throw APIError(
                    .badRequest, code: "bad_multipart",
                    "A multipart part's headers are longer than \(limits.maxPartHeaderBytes) bytes.")
            }
            if state.fileParts > 1 {
                throw APIError(
                    .badRequest, code: "multiple_files", "Send one PDF per upload; this request has several file parts."
                )
            }
            if let field = state.overlong {
                throw Self.fieldTooLong(field, limit: limits.maxFieldCharacters[field] ?? 0)
            }
            if state.file.readableBytes > 0 {
                try await accept(state.file)
                state.file.clear()
            }
        }
        guard tail.firstRange(of: closing) != nil, !state.inFile, state.field == nil else {
            throw APIError(
                .badRequest, code: "bad_multipart", "The multipart body was cut off before its closing boundary.")
        }
        for (field, buffer) in state.values {
            guard let decoded = String(validating: buffer.readableBytesView, as: UTF8.self) else {
                throw APIError(.badRequest, code: "bad_field", "The field '\(field)' is not valid UTF-8.")
            }
            let trimmed = decoded.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { continue }
            switch field {
            case "title": metadata.title = trimmed
            case "author": metadata.author = trimmed
            case "language": metadata.language = trimmed
            case "voice": metadata.voice = trimmed
            case "quality": metadata.quality = trimmed
            default: break
            }
        }
        if metadata.filename == nil { metadata.filename = state.fileName }
    }

    static func fieldTooLong(_ field: String, limit: Int) -> APIError {
        APIError(.badRequest, code: "field_too_long", "The field '\(field)' is longer than \(limit) characters.")
    }

    /// Takes bytes of the PDF: checks the signature on the first ones, counts against the limit,
    /// and sends a chunk whenever one is full.
    private mutating func accept(_ buffer: ByteBuffer) async throws {
        bytes += buffer.readableBytes
        guard bytes <= maxBytes else { throw Self.tooLarge(maxBytes) }
        var buffer = buffer
        pending.writeBuffer(&buffer)
        if !checkedSignature, pending.readableBytes >= 1024 {
            try Self.checkSignature(pending)
            checkedSignature = true
        }
        if pending.readableBytes >= Self.chunkSize { try await flush() }
    }

    private mutating func flush() async throws {
        guard pending.readableBytes > 0 else { return }
        if !checkedSignature {
            try Self.checkSignature(pending)
            checkedSignature = true
        }
        if uploadId == nil {
            uploadId = try await client.call { try await $0.beginUpload() }
        }
        let id = uploadId!
        let chunk = Data(pending.readableBytesView)
        pending.clear()
        try await client.call { try await $0.appendUpload(id, chunk: chunk) }
    }

    static func checkSignature(_ head: ByteBuffer) throws {
        let prefix = Array(head.readableBytesView.prefix(1024))
        guard prefix.count >= 5,
            (0...(prefix.count - 5)).contains(where: { prefix[$0..<$0 + 5].elementsEqual("%PDF-".utf8) })
        else {
            throw APIError(
                .unsupportedMediaType, code: "not_a_pdf", "The file is not a PDF (it does not start with %PDF-).")
        }
    }

    static func tooLarge(_ limit: Int) -> APIError {
        APIError(.contentTooLarge, code: "file_too_large", "The file is larger than the limit of \(limit) bytes.")
    }

    func validate(_ metadata: UploadMetadata) throws {
        for (field, value) in [("title", metadata.title), ("author", metadata.author), ("filename", metadata.filename)]
        {
            let limit = limits.maxFieldCharacters[field] ?? 500
            if let value, value.count > limit { throw Self.fieldTooLong(field, limit: limit) }
        }
        if let language = metadata.language?.lowercased(),
            !["hindi", "english", "hinglish", "marathi", "nepali", "urdu", "french", "german", "spanish"].contains(
                language),
            language.range(of: #"^[a-z]{2,3}(-[a-z0-9]+)?$"#, options: .regularExpression) == nil
        {
            throw APIError(
                .badRequest, code: "invalid_language",
                "language must be hindi, english, hinglish, marathi, french, german, spanish or a language code such as 'mr'; got '\(language)'."
            )
        }
        if let quality = metadata.quality, !["natural", "fast"].contains(quality.lowercased()) {
            throw APIError(
                .badRequest, code: "invalid_quality",
                "quality must be natural (a neural voice where there is one) or fast (espeak-ng); got '\(quality.prefix(40))'."
            )
        }
        if let voice = metadata.voice, voice.range(of: #"^[A-Za-z0-9_+-]{1,40}$"#, options: .regularExpression) == nil {
            throw APIError(
                .badRequest, code: "invalid_voice", "voice must be an espeak-ng voice name such as 'hi' or 'en-us'.")
        }
    }

    static func boundary(in contentType: String) -> String? {
        parameter("boundary", in: contentType)
    }

    /// A `key=value` or `key="value"` parameter of a header value.
    static func parameter(_ key: String, in header: String) -> String? {
        for part in header.split(separator: ";") {
            let pair = part.trimmingCharacters(in: .whitespaces)
            guard pair.lowercased().hasPrefix("\(key)=") else { continue }
            var value = String(pair.dropFirst(key.count + 1))
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            return value
        }
        return nil
    }
}

/// What the multipart callbacks collect between two reads of the body.
private final class MultipartState {
    var field: String?
    var filename: String?
    var fileName: String?
    var inFile = false
    var fileParts = 0
    var file = ByteBuffer()
    var values: [String: ByteBuffer] = [:]
    /// A text field past its byte limit.
    var overlong: String?
    /// Whether the parser called back during the last read.
    var heard = false
}
