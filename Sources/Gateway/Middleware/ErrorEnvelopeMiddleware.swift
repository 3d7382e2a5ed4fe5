import Hummingbird

/// Makes Hummingbird's own errors (unknown route, wrong method, oversized body) and anything
/// unexpected answer in the JSON envelope too, so clients never have to parse two error shapes.
struct ErrorEnvelopeMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return APIResponse.failure(error.status, code: error.code, message: error.message)
        } catch let error as HTTPError {
            let code: String =
                switch error.status {
                case .notFound: "not_found"
                case .methodNotAllowed: "method_not_allowed"
                case .contentTooLarge: "file_too_large"
                case .unauthorized: "unauthorized"
                default: "http_\(error.status.code)"
                }
            let message =
                error.body
                ?? (error.status == .notFound ? "No such endpoint: \(request.uri.path)" : error.status.reasonPhrase)
            return APIResponse.failure(error.status, code: code, message: message)
        } catch {
            // The details (which may name files or internals) go to the log, never to the client.
            context.logger.error("unhandled error for \(request.method) \(request.uri.path): \(error)")
            return APIResponse.failure(
                .internalServerError, code: "internal_error",
                message: "Something went wrong on the server; the error was logged.")
        }
    }
}
