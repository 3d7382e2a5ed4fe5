import Coordinator
import Hummingbird

/// `GET /api/voices/`: every voice some worker has, with its engine, language, quality and how
/// many workers have it, natural voices first.
struct VoiceRoutes {
    let client: CoordinatorClient

    func add(to router: some RouterMethods<BasicRequestContext>) {
        let client = self.client
        router.get("voices") { _, _ -> Response in
            let voices = try await client.call { try await $0.voices() }
            return APIResponse.ok(voices, message: "Voices retrieved successfully")
        }
    }
}
