import Dispatch

/// Runs blocking work (librdkafka metadata calls, file scans) on a Dispatch queue and awaits it,
/// so the cooperative thread pool never blocks.
public func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try body() })
        }
    }
}
