import Hummingbird

/// Lets a request through only with `Authorization: Bearer <token>`.
///
/// Attached to the `/api`, `/media` and `/metrics` route groups rather than matched against the
/// raw path, so every spelling of a path that reaches one of their handlers (`//api/books/`,
/// `/api//books/`) has passed it.
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard Self.isAuthorised(request, token: token) else { return Self.refusal() }
        return try await next(request, context)
    }

    static func isAuthorised(_ request: Request, token: String) -> Bool {
        // Exactly one Authorization header: two could disagree between this check and a proxy.
        let headers = request.headers[values: .authorization]
        guard headers.count == 1, let header = headers.first, header.hasPrefix("Bearer ") else { return false }
        return constantTimeEqual(String(header.dropFirst("Bearer ".count)), token)
    }

    static func refusal() -> Response {
        var response = APIResponse.failure(
            .unauthorized, code: "unauthorized",
            message: "This server needs an API token: send 'Authorization: Bearer <token>'.")
        response.headers[.wwwAuthenticate] = "Bearer"
        return response
    }

    /// Compares without stopping at the first difference, so timing does not leak the token; the
    /// loop runs over the longer of the two, so it does not stop early on a short guess either.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8)
        let y = Array(b.utf8)
        var difference = UInt8(x.count == y.count ? 0 : 1)
        for index in 0..<max(x.count, y.count) {
            difference |= (index < x.count ? x[index] : 0) ^ (index < y.count ? y[index] : 0)
        }
        return difference == 0
    }
}
