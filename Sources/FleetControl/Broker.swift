import ArgumentParser
import FleetSupport
import Foundation
import Kafka
import Logging
import ServiceLifecycle
import WorkerRuntime

/// `fleet broker`: hosts librdkafka's mock cluster and publishes its bootstrap list.
package struct Broker: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        abstract: "Run the embedded Kafka broker (librdkafka's mock cluster) until Ctrl-C.",
        discussion: "Creates the topics of --topics-dir and writes the bootstrap list to <run-dir>/bootstrap for workers and tools. It keeps nothing on disk and only the newest ~5 MiB per partition.")

    @Option(help: "Folder where the bootstrap list is published.") var runDir = "run"
    @Option(help: "Folder of topic specs (Topics/*.json) to create; default: ./Topics or the repository's (none needed when only --topic is given).") var topicsDir: String?
    @Option(name: .customLong("topic"), help: "Extra topic to create, as name:partitions (repeatable).") var extraTopics: [String] = []
    @Option(help: "Number of mock brokers.") var brokers = 1

    package init() {}

    package func run() async throws {
        let logger = Logger(label: "card.broker")
        let cluster = try EmbeddedCluster(brokers: brokers, logger: logger)
        // Only --topic extras: no catalogue needed. Otherwise a missing folder is an error, not a broker without topics.
        var specs = topicsDir == nil && !extraTopics.isEmpty ? [] : try TopicCatalog.load(from: try locateTopicsDirectory(topicsDir))
        for extra in extraTopics {
            let parts = extra.split(separator: ":")
            guard parts.count == 2, let partitions = Int32(parts[1]) else { throw ValidationError("--topic needs name:partitions, got \(extra)") }
            specs.append(TopicSpec(name: String(parts[0]), partitions: partitions))
        }
        for spec in specs { try cluster.createTopic(spec) }
        try FileManager.default.createDirectory(atPath: runDir, withIntermediateDirectories: true)
        let bootstrapFile = URL(fileURLWithPath: runDir).appendingPathComponent("bootstrap")
        // Write then rename, so a reader never sees half a list.
        let temporary = bootstrapFile.appendingPathExtension("tmp")
        try Data((cluster.bootstrapServers + "\n").utf8).write(to: temporary)
        guard rename(temporary.path, bootstrapFile.path) == 0 else {
            throw ValidationError("cannot publish \(bootstrapFile.path): \(String(cString: strerror(errno)))")
        }
        logger.info("embedded broker up", metadata: ["bootstrap": "\(cluster.bootstrapServers)", "topics": "\(specs.count)"])
        Terminal.say("embedded broker listening on \(cluster.bootstrapServers) (written to \(bootstrapFile.path))")
        try await ServiceGroup(services: [UntilShutdown()], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger).run()
        try? FileManager.default.removeItem(at: bootstrapFile)
        withExtendedLifetime(cluster) {}
    }
}

/// A service that does nothing until graceful shutdown: keeps a process alive for its signal handling.
struct UntilShutdown: Service {
    func run() async throws {
        try? await gracefulShutdown()
    }
}
