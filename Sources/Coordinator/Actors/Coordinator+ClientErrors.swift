import Foundation

extension Coordinator {
    /// Runs a client's request. A coordinator stopped or deposed under it, and a database out of
    /// reach, are answered 503 (try again), not 500 (the server is broken): both are what a
    /// takeover or a database restart looks like from outside, and both pass.
    func answering<T>(_ request: () async throws -> T) async throws -> T {
        do {
            return try await request()
        } catch let error as LectorError {
            throw error
        } catch {
            if stopped || error is CoordinatorDeposed { throw LectorError.coordinatorChanged }
            if store.isOutage(error) {
                logger.warning("a request found the database out of reach: \(error)")
                throw LectorError.databaseUnavailable
            }
            throw error
        }
    }
}
