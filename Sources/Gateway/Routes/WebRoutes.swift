import Foundation
import Hummingbird

/// The web page (`/`, its script and style sheet) and the OpenAPI document, shipped as package
/// resources and read once at start: plain files, no build step, nothing fetched from elsewhere.
struct WebRoutes {
    struct File: Sendable {
        var bytes: ByteBuffer
        var contentType: String
    }

    /// Request path → file in `Resources`.
    static let files: [(path: String, file: String, type: String)] = [
        ("/", "Public/index.html", "text/html; charset=utf-8"),
        ("/app.js", "Public/app.js", "text/javascript; charset=utf-8"),
        ("/style.css", "Public/style.css", "text/css; charset=utf-8"),
        ("/openapi.yaml", "openapi.yaml", "application/yaml; charset=utf-8"),
    ]

    func add(to router: Router<BasicRequestContext>) {
        let root: URL? = Bundle.module.bundleURL.appendingPathComponent("Resources")
        for entry in Self.files {
            guard let root, let data = try? Data(contentsOf: root.appendingPathComponent(entry.file)) else { continue }
            let file = File(bytes: ByteBuffer(bytes: data), contentType: entry.type)
            router.get(RouterPath(entry.path)) { _, _ -> Response in
                Response(
                    status: .ok, headers: [.contentType: file.contentType, .cacheControl: "no-cache"],
                    body: .init(byteBuffer: file.bytes))
            }
        }
    }
}
