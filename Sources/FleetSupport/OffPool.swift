import Foundation

/// Runs blocking Kafka calls (poll, watermarks, committed offsets, close) on a thread of their
/// own, so the `fleet` demo commands never block the cooperative pool.
public enum OffPool {
    /// Runs `body` on a new thread and returns its result.
    public static func run<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.name = name
            thread.start()
        }
    }
}

/// Output for people at a terminal: lines go to stdout as they are printed, errors to stderr.
public enum Terminal {
    public static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Written straight to the descriptor (no buffering): stdout is a pipe under tests and
    /// scripts, and progress lines must appear in time.
    public static func say(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
