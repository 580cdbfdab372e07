import ArgumentParser
import FleetSupport
import Foundation
import Kafka
import Logging

/// `fleet produce`: publishes records (one per value, or per stdin line) with a key and headers.
package struct Produce: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(abstract: "Publish records to a topic (idempotent, acks=all).")

    @Option(help: "Bootstrap servers; default: the embedded broker's run/bootstrap.") var brokers: String?
    @Option(help: "Run folder of the embedded broker.") var runDir = "run"
    @Option(help: "Topic.") var topic: String
    @Option(help: "Record key.") var key: String?
    @Option(name: .customLong("header"), help: "Header name=value (repeatable).") var headers: [String] = []
    @Argument(help: "Values; none reads one value per line from stdin.") var values: [String] = []

    package init() {}

    package func run() async throws {
        let servers = try brokers ?? BrokerList.embedded(runDir: runDir)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(bootstrapServers: servers)),
                                         logger: Logger(label: "card.produce"))
        let parsedHeaders = try headers.map { h -> KafkaHeader in
            let parts = h.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("--header needs name=value, got \(h)") }
            return KafkaHeader(name: parts[0], string: parts[1])
        }
        var lines = values
        if lines.isEmpty { while let line = readLine() { lines.append(line) } }
        let records = lines.map { ProducerRecord(topic: topic, key: key.map { Array($0.utf8) }, value: Array($0.utf8), headers: parsedHeaders) }
        let failures = await producer.send(records).compactMap { $0 }
        guard failures.isEmpty else { throw ValidationError("\(failures.count) record(s) not delivered: \(failures[0])") }
        Terminal.say("delivered \(records.count) record(s) to \(topic)")
    }
}
