import ClusterTransport
import Coordinator
import Foundation
import Hummingbird

/// `GET /api/books/{id}/events/`: the book's changes as server-sent events, pushed by the
/// coordinator as they happen (the gateway does not poll). Each event has an `id:`; a client that
/// reconnects with `Last-Event-ID` gets exactly the events it missed. The stream ends after
/// `book_completed` (or `book_deleted`); comments keep idle connections open through proxies.
struct BookEventRoutes {
    let client: CoordinatorClient
    let system: ClusterSystem
    var heartbeat: Duration = .seconds(15)

    func add(to router: some RouterMethods<BasicRequestContext>) {
        let client = self.client
        let system = self.system
        let heartbeat = self.heartbeat
        router.get("books/:id/events") { request, context -> Response in
            let book = try BookRoutes.bookID(context)
            let header = request.headers.first { $0.name.canonicalName == "last-event-id" }?.value
            // `epoch-n`, passed on as text: the coordinator decides whether it still means anything.
            let lastEventID = (header ?? request.uri.queryParameters.get("last_event_id"))
                .map { String($0.trimmingCharacters(in: .whitespaces).prefix(64)) }
            let (events, continuation) = AsyncStream.makeStream(of: BookEvent?.self)
            let sink = BookEventSink(actorSystem: system, continuation: continuation)
            // Before the stream starts, so an unknown book is a plain 404.
            let coordinator = system.receptionist.lookup(Coordinator.receptionKey).first
            let subscription = try await client.call {
                try await $0.subscribeEvents(book: book, after: lastEventID, receiver: sink.id)
            }
            let after = lastEventID.flatMap(EventCursor.init).flatMap { $0.epoch == subscription.epoch ? $0.id : nil }
            let body = ResponseBody { writer in
                let beat = Task {
                    var waited = Duration.zero
                    while !Task.isCancelled {
                        try await Task.sleep(for: .seconds(1))
                        waited += .seconds(1)
                        // The coordinator that feeds this stream went away (restart, crash): end
                        // the stream, so the client reconnects and gets the new one's events.
                        if let coordinator, !system.receptionist.lookup(Coordinator.receptionKey).contains(coordinator)
                        {
                            continuation.finish()
                            return
                        }
                        if waited >= heartbeat {
                            waited = .zero
                            continuation.yield(nil)
                        }
                    }
                }
                defer { beat.cancel() }
                do {
                    try await Self.write(
                        first: subscription.events, then: events, epoch: subscription.epoch, after: after, to: &writer)
                } catch {
                    // The client went away: stop the coordinator sending.
                    _ = try? await client.call { try await $0.unsubscribeEvents(book: book, receiver: sink.id) }
                    throw error
                }
                _ = try? await client.call { try await $0.unsubscribeEvents(book: book, receiver: sink.id) }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: ServerSentEvent.headers, body: body)
        }
    }

    /// The first events, then live ones until the book settles; `nil` in the stream is a heartbeat.
    static func write(
        first: [BookEvent], then events: AsyncStream<BookEvent?>, epoch: Int64, after lastEventID: Int?,
        to writer: inout some ResponseBodyWriter
    ) async throws {
        // Browsers reconnect after this many milliseconds when the connection drops.
        try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
        var lastWritten = lastEventID ?? -1
        for event in first {
            try await writer.write(encode(event, epoch: epoch))
            lastWritten = max(lastWritten, event.id)
            if ends(event) { return }
        }
        for await event in events {
            guard let event else {
                try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                continue
            }
            // The live stream may repeat what the first answer already held.
            guard event.id > lastWritten else { continue }
            try await writer.write(encode(event, epoch: epoch))
            lastWritten = event.id
            if ends(event) { return }
        }
    }

    static func ends(_ event: BookEvent) -> Bool {
        event.name == "book_completed" || event.name == "book_deleted"
    }

    /// The id is `epoch-n`, so an id from before a coordinator restart is told apart.
    static func encode(_ event: BookEvent, epoch: Int64) -> ByteBuffer {
        var buffer = ByteBuffer(string: "event: \(event.name)\nid: \(epoch)-\(event.id)\ndata: ")
        buffer.writeBytes(event.json)
        buffer.writeString("\n\n")
        return buffer
    }
}
