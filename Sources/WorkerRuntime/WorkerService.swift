import Foundation
import Logging
import ServiceLifecycle

/// A worker as a swift-service-lifecycle `Service`: runs the loop on its own thread until
/// graceful shutdown (SIGTERM/SIGINT), then finishes the batch, drains the outbox, commits
/// and leaves the group before `run()` returns.
public struct WorkerService: Service {
    private let handler: any WorkerHandler
    private let configuration: WorkerConfiguration
    private let logger: Logger

    public init(handler: any WorkerHandler, configuration: WorkerConfiguration, logger: Logger) {
        self.handler = handler
        self.configuration = configuration
        var logger = logger
        logger[metadataKey: LogKey.worker] = "\(configuration.name)"
        self.logger = logger
    }

    public func run() async throws {
        let reference = handler.referenceTables.isEmpty ? nil
            : try ReferenceLoader(tables: handler.referenceTables, configuration: configuration, logger: logger)
        try reference?.start()
        defer { reference?.stop() }
        let loop = try WorkerLoop(handler: handler, configuration: configuration, reference: reference, logger: logger)
        try await withGracefulShutdownHandler {
            try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                    // The loop blocks in librdkafka and SQLite: it gets a thread of its own, never the cooperative pool.
                    let thread = Thread {
                        do {
                            try loop.run()
                            continuation.resume()
                        } catch {
                            continuation.resume(throwing: error)
                        }
                    }
                    thread.name = "worker-loop"
                    thread.start()
                }
            } onCancel: {
                loop.requestStop()
            }
        } onGracefulShutdown: {
            loop.requestStop()
        }
    }
}
