import Hummingbird

/// Answers 405 with an `Allow` header for a method a known path does not take (the router alone
/// would say 404, as if the path did not exist). HEAD goes wherever GET does.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// With a token set, a request for a protected path is told 401 before it learns any methods.
    var token: String?

    /// Every path the gateway serves, `*` for one variable segment, with its methods. Built once
    /// (a generic type cannot hold a stored static, so it lives in `KnownRoutes`).
    static var routes: [(pattern: [Substring], methods: [HTTPRequest.Method])] { KnownRoutes.table }
}

private enum KnownRoutes {
    static let table: [(pattern: [Substring], methods: [HTTPRequest.Method])] = {
        [
            ("/", [.get]), ("/app.js", [.get]), ("/style.css", [.get]), ("/openapi.yaml", [.get]),
            ("/healthz", [.get]), ("/metrics", [.get]), ("/api/cluster", [.get]), ("/api/voices", [.get]),
            ("/api/books", [.get]),
            ("/api/books/upload", [.post]), ("/api/books/*", [.get, .delete]), ("/api/books/*/status", [.get]),
            ("/api/books/*/pages", [.get]), ("/api/books/*/pages/*", [.get]), ("/api/books/*/events", [.get]),
            ("/api/books/*/audio", [.get]), ("/api/books/*/retry", [.post]), ("/api/books/*/position", [.get, .put]),
            ("/media/books/*/*", [.get]),
        ].map { (MethodNotAllowedMiddleware<BasicRequestContext>.segments($0.0), $0.1) }
    }()
}

extension MethodNotAllowedMiddleware {
    static func segments(_ path: String) -> [Substring] {
        path.split(separator: "/", omittingEmptySubsequences: true)
    }

    /// Paths under the groups the token guards, however they are spelled.
    static func isProtected(_ path: String) -> Bool {
        guard let first = segments(path).first else { return false }
        return first == "api" || first == "media" || first == "metrics"
    }

    /// The methods of the most specific pattern matching `path` (most literal segments wins, so
    /// `/api/books/upload` is not taken for a book id); nil for an unknown path.
    static func methods(for path: String) -> [HTTPRequest.Method]? {
        let asked = segments(path)
        var best: (literals: Int, methods: [HTTPRequest.Method])?
        for route in routes where route.pattern.count == asked.count {
            guard zip(route.pattern, asked).allSatisfy({ $0 == "*" || $0 == $1 }) else { continue }
            let literals = route.pattern.filter { $0 != "*" }.count
            if best == nil || literals > best!.literals { best = (literals, route.methods) }
        }
        return best?.methods
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let methods = Self.methods(for: request.uri.path) else { return try await next(request, context) }
        let allowed = methods.contains(.get) ? methods + [.head] : methods
        guard !allowed.contains(request.method) else { return try await next(request, context) }
        if let token, Self.isProtected(request.uri.path),
            !BearerTokenMiddleware<Context>.isAuthorised(request, token: token)
        {
            return BearerTokenMiddleware<Context>.refusal()
        }
        let list = allowed.map(\.rawValue).joined(separator: ", ")
        var response = APIResponse.failure(
            .methodNotAllowed, code: "method_not_allowed",
            message: "\(request.method.rawValue) is not allowed here; use \(list).")
        response.headers[.allow] = list
        return response
    }
}
