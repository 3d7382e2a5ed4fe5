import ClusterTransport
import Coordinator
import Foundation
import Hummingbird

/// `POST /api/books/upload/`, answered as JSON or, with `?stream=true`, as server-sent events while
/// each page's text is extracted.
struct UploadRoutes {
    struct Status: Encodable { var message: String }
    struct Started: Encodable {
        var totalPages: Int
        var message: String
    }

    /// Reading every page's text takes milliseconds a page, but a hostile page can hold poppler
    /// for seconds; past this the upload is aborted (and the coordinator then creates nothing).
    static let extractionTimeout: Duration = .seconds(300)

    let client: CoordinatorClient
    let system: ClusterSystem
    let limits: UploadLimits

    func add(to router: some RouterMethods<BasicRequestContext>) {
        router.post("books/upload") { request, context in
            try await upload(request, context: context)
        }
    }

    func upload(_ request: Request, context: BasicRequestContext) async throws -> Response {
        let streaming = request.uri.queryParameters.get("stream")?.lowercased() == "true"
        var receiver = UploadReceiver(client: client, limits: limits)
        let received: UploadReceiver.Received
        let inspection: UploadInspection
        do {
            received = try await receiver.receive(request)
            let id = received.uploadId
            inspection = try await client.call { try await $0.inspectUpload(id) }
        } catch {
            await receiver.abort()
            if streaming { return ServerSentEvent.rejection(Self.apiError(error)) }
            throw error
        }
        context.logger.info(
            "upload \(received.uploadId): \(received.bytes) bytes, \(inspection.totalPages) pages, streaming: \(streaming)"
        )
        guard streaming else {
            let id = received.uploadId
            let metadata = received.metadata
            do {
                let created = try await ClusterSystem.$callTimeout.withValue(Self.extractionTimeout) {
                    try await client.call { try await $0.finishUpload(id, metadata: metadata, progress: nil) }
                }
                return APIResponse.ok(created, message: created.message)
            } catch {
                await Self.discard(id, client: client)
                throw error
            }
        }
        return stream(received, inspection: inspection)
    }

    /// Drops an upload that will not be finished. The coordinator forgets a consumed or unknown
    /// upload quietly, so this is safe after any failure.
    static func discard(_ uploadId: String, client: CoordinatorClient) async {
        _ = try? await client.call { try await $0.abortUpload(uploadId) }
    }

    static func apiError(_ error: any Error) -> APIError {
        error as? APIError
            ?? APIError(
                .internalServerError, code: "internal_error", "The upload failed on the server; the error was logged.")
    }

    /// Events are written as they happen: extraction reports each page through a sink actor the
    /// coordinator calls back.
    private func stream(_ received: UploadReceiver.Received, inspection: UploadInspection) -> Response {
        let client = self.client
        let system = self.system
        let body = ResponseBody { writer in
            try await writer.write(
                ServerSentEvent.encode(
                    "status", Status(message: "Upload received (\(received.bytes) bytes). Reading the PDF...")))
            try await writer.write(
                ServerSentEvent.encode(
                    "processing_started",
                    Started(
                        totalPages: inspection.totalPages,
                        message: "Extracting text from \(inspection.totalPages) pages...")))
            let (events, continuation) = AsyncStream.makeStream(of: TextProgress.self)
            let sink = UploadProgressSink(actorSystem: system, continuation: continuation)
            let sinkID = sink.id
            let finishing = Task {
                defer { continuation.finish() }
                return try await ClusterSystem.$callTimeout.withValue(Self.extractionTimeout) {
                    try await client.call {
                        try await $0.finishUpload(received.uploadId, metadata: received.metadata, progress: sinkID)
                    }
                }
            }
            for await progress in events {
                try await writer.write(ServerSentEvent.encode("text_progress", progress))
            }
            switch await finishing.result {
            case .success(let created):
                try await writer.write(ServerSentEvent.encode("completed", created))
            case .failure(let error):
                await Self.discard(received.uploadId, client: client)
                try await writer.write(ServerSentEvent.error(Self.apiError(error)))
            }
            _ = sink
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: ServerSentEvent.headers, body: body)
    }
}
