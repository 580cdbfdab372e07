import ArgumentParser
import CardDomain
import CardWorkers
import FleetSupport
import Foundation
import JSONCodec
import Kafka
import Logging

/// `fleet status APPLICATION_ID`: an application's history from card.status and card.bank-events.
package struct StatusCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show an application's statuses and bank events, in Beijing time, with the time between steps.",
        discussion: """
            Reads card.status and card.bank-events from the start up to their current end (no consumer group) and \
            prints every status with its seq, time, reasons, relationship label, bank and branch, due date and e-card, \
            interleaved with the bank's events. Exits with status 1 when neither topic knows the application. \
            Nothing is read from submissions, so nothing personal is printed.
            """)

    @Argument(help: "The application id (the portal's submission_id).") var applicationID: String
    @Option(help: "Bootstrap servers; default: the embedded broker's <run-dir>/bootstrap.") var brokers: String?
    @Option(help: "Run folder of the embedded broker.") var runDir = "run"
    @Flag(help: "Print the history as JSON.") var json = false
    @Option(help: "Give up reading the topics to their end after this many seconds.") var timeout = 60.0

    static let topics = ["card.status", "card.bank-events"]

    package init() {}

    package func run() async throws {
        let servers = try brokers ?? BrokerList.embedded(runDir: runDir)
        let applicationID = applicationID
        let timeout = timeout
        let read = try await OffPool.run("status-read") {
            try Self.read(applicationID: applicationID, servers: servers, timeout: .seconds(timeout))
        }
        for warning in read.warnings { Terminal.error("warning: \(warning)") }
        guard let history = ApplicationHistory(applicationID: applicationID, statuses: read.statuses, bankEvents: read.bankEvents) else {
            Terminal.error("unknown application \(applicationID): no event for it on card.status or card.bank-events (\(read.messagesRead) message(s) read)")
            throw ExitCode(1)
        }
        if json {
            let encoder = CardJSON.encoder()
            encoder.outputFormatting.insert(.prettyPrinted)
            Terminal.say(String(decoding: try encoder.encode(history.json()), as: UTF8.self))
        } else {
            Terminal.say(history.render())
            if let trace = read.traceID { Terminal.say("trace \(trace) (W3C traceparent carried from submission to card order)") }
        }
    }

    struct ReadResult: Sendable {
        var statuses: [StatusEvent] = []
        var bankEvents: [BankEvent] = []
        var messagesRead = 0
        /// W3C trace id from the `traceparent` header the workers put on the application's statuses.
        var traceID: String?
        var warnings: [String] = []
    }

    /// Reads both topics from their low to their high watermarks, as they are when it starts. Blocking.
    ///
    /// A plain assigned consumer rather than FleetSupport's TopicReader: TopicReader starts every
    /// partition at offset 0, which the broker refuses (and the consumer then stops the partition)
    /// once retention has dropped the oldest messages; starting at the low watermark reads what is left.
    static func read(applicationID: String, servers: String, timeout: Duration) throws -> ReadResult {
        let logger = Logger(label: "card.status-reader")
        let client = KafkaClientConfiguration(bootstrapServers: servers, clientID: "fleet-status")
        let admin = try KafkaAdmin(configuration: client, logger: logger)
        let counts = try admin.topicPartitionCounts()
        var result = ReadResult()
        var assignment: [TopicPartitionOffset] = []
        var trimmed: [String] = []
        // Where each partition ends now; later events are not waited for.
        var remaining: [TopicPartitionOffset: Int64] = [:]
        var partitions: [TopicPartitionOffset] = []
        for topic in topics {
            guard let count = counts[topic] else { throw ValidationError("no topic \(topic) on the broker") }
            partitions += (0..<count).map { TopicPartitionOffset(topic: topic, partition: $0) }
        }
        let allMarks = try admin.watermarks(partitions)
        for topic in topics {
            for partition in 0..<(counts[topic] ?? 0) {
                guard let marks = allMarks[TopicPartitionOffset(topic: topic, partition: partition)], marks.high > marks.low else { continue }
                if marks.low > 0 { trimmed.append("\(topic)[\(partition)]") }
                assignment.append(TopicPartitionOffset(topic: topic, partition: partition, offset: marks.low))
                remaining[TopicPartitionOffset(topic: topic, partition: partition)] = marks.high
            }
        }
        if !trimmed.isEmpty {
            result.warnings.append("the oldest events of \(trimmed.joined(separator: ", ")) are gone (retention); the history may start late")
        }

        let needle = Data(applicationID.utf8)
        /// Keeps the application's events only: whole topics can be large.
        func take(_ message: ConsumedMessage) {
            result.messagesRead += 1
            guard let value = message.value else { return }
            // Keyed by application_id; the id in the value is what counts, the key only filters fast.
            let keyMatches = message.key.map { $0.elementsEqual(needle) } ?? false
            guard keyMatches || Data(value).range(of: needle) != nil else { return }
            if message.topic == "card.status" {
                if let event = try? CardJSON.decode(StatusEvent.self, from: value), event.applicationID == applicationID {
                    result.statuses.append(event)
                    result.traceID = result.traceID ?? TraceContext.traceID(of: message.header(TraceContext.header)?.stringValue)
                }
            } else if let event = try? CardJSON.decode(BankEvent.self, from: value), event.applicationID == applicationID {
                result.bankEvents.append(event)
            }
        }

        if !assignment.isEmpty {
            let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(client: client, groupID: nil), logger: logger)
            defer { consumer.close() }
            try consumer.assign(assignment)
            let deadline = ContinuousClock.now + timeout
            while !remaining.isEmpty && ContinuousClock.now < deadline {
                let polled = consumer.poll(maxMessages: 10_000, timeout: .milliseconds(100))
                for error in polled.errors {
                    result.warnings.append("\(error)")
                    if let partition = error.partition { remaining[partition.withoutOffset] = nil }
                }
                for message in polled.messages {
                    take(message)
                    let tp = TopicPartitionOffset(topic: message.topic, partition: message.partition)
                    if let end = remaining[tp], message.offset + 1 >= end { remaining[tp] = nil }
                }
            }
        }
        if !remaining.isEmpty {
            let behind = remaining.keys.map(\.description).sorted().joined(separator: ", ")
            result.warnings.append("not read to the end within the time limit: \(behind)")
        }

        return result
    }
}
