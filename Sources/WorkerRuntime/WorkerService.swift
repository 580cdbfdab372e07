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
    /// Alive/ready, assigned partitions, reference tables and stuck partitions, for the ops endpoints.
    public let health: WorkerHealth

    public init(handler: any WorkerHandler, configuration: WorkerConfiguration, logger: Logger) {
        self.handler = handler
        self.configuration = configuration
        self.health = WorkerHealth(worker: configuration.name)
        var logger = logger
        logger[metadataKey: LogKey.worker] = "\(configuration.name)"
        self.logger = logger
    }

    public func run() async throws {
        try AssignmentStrategyRule.validate(strategy: configuration.kafka.extraProperties["partition.assignment.strategy"],
                                            inputTopics: handler.inputTopics)
        var configuration = configuration
        let clusterID = try ClusterBinding.check(directory: configuration.stateDirectory, kafka: configuration.kafka, logger: logger)
        if configuration.inputFetchMaxWait == nil {
            configuration.inputFetchMaxWait = WorkerConfiguration.inputFetchMaxWait(clusterID: clusterID)
        }
        let reference = handler.referenceTables.isEmpty ? nil
            : try ReferenceLoader(tables: handler.referenceTables, configuration: configuration, logger: logger)
        try reference?.start()
        defer { reference?.stop() }
        if let reference { health.attachReference { reference.isCaughtUp } }
        let watchdog = try PartitionWatchdog(health: health, configuration: configuration, logger: logger)
        watchdog.start()
        defer { watchdog.stop() }
        let loop = try WorkerLoop(handler: handler, configuration: configuration, reference: reference, health: health, logger: logger)
        // The drain has `drainTimeout`; closing the clients and flushing get 30 s more.
        let limit = configuration.drainTimeout + .seconds(30)
        let logger = logger
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
                ShutdownLimit.arm(limit, logger: logger)
            }
        } onGracefulShutdown: {
            loop.requestStop()
            ShutdownLimit.arm(limit, logger: logger)
        }
    }
}
