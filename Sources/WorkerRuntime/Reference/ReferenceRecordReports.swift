import CardDomain
import Foundation
import GRDB
import Kafka
import Logging
import Metrics

/// Thrown by a ``ReferenceTable`` for a record it cannot read unambiguously (a registry
/// record whose id is no citizen number, a key that disagrees with the value, …).
///
/// `cause` must already be masked (ID numbers as first 6 + `********` + last 4, no names):
/// it goes to the log, and to `card.dlq` as the dead letter's `error`.
public struct ReferenceRecordRejected: Error, CustomStringConvertible {
    public var cause: String
    public init(cause: String) { self.cause = cause }
    public var description: String { cause }
}

/// Reports reference records loudly: a rejected one is logged (error), counted
/// (`card_reference_records_rejected_total{worker,topic}`) and dead-lettered with its cause;
/// a normalised one (kept) is logged (warning) and counted
/// (`card_reference_records_normalised_total{worker,topic}`).
///
/// Dead letters go through a small outbox in `reference.sqlite` (`runtime_reference_dlq`),
/// written in the same transaction as the table and its offsets, and deleted on their
/// delivery report: a crash between the two re-sends one with the same `card-message-id`
/// (`dlq/<topic>/<partition>/<offset>`) rather than losing it.
final class ReferenceRecordReports: @unchecked Sendable {
    private let worker: String
    private let deadLetterTopic: String
    private let producerConfiguration: KafkaProducerConfiguration
    /// Made at the first dead letter to send: most runs have none, and an idle librdkafka handle
    /// still wakes on its timers (RDKafkaClient.sharedAdmin has the figure).
    private var producer: KafkaProducer?
    private let logger: Logger
    private let delivered = DeliveryReports()
    /// Rows enqueued and not yet reported delivered or failed.
    private var inFlight: Set<Int64> = []
    /// Whether `runtime_reference_dlq` may hold rows not yet enqueued: true at start (a previous
    /// run may have left some), after `rejected` and after a failed delivery; false once a read
    /// found none. While false, `pump` does not read the table (it runs after every poll of the
    /// reference topics, twice a second when idle, and almost every run has no dead letter).
    private var queueMayHoldRows = true

    init(configuration: WorkerConfiguration, logger: Logger) throws {
        worker = configuration.name
        deadLetterTopic = configuration.deadLetterTopic
        var producerConfig = configuration.producer
        producerConfig.client = configuration.kafka
        // Properties librdkafka refuses fail at start-up all the same: the worker loop's producer has them too.
        producerConfiguration = producerConfig
        self.logger = logger
    }

    static func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("reference-runtime-v2-dlq") { db in
            try db.execute(sql: "CREATE TABLE runtime_reference_dlq (seq INTEGER PRIMARY KEY AUTOINCREMENT, topic TEXT NOT NULL, key BLOB, value BLOB NOT NULL, message_id TEXT NOT NULL)")
        }
    }

    /// Inside the batch's transaction: logs, counts and queues the dead letter of `message`.
    func rejected(_ message: ConsumedMessage, cause: String, in db: Database) throws {
        logger.error("reference record rejected", metadata: [
            LogKey.topic: "\(message.topic)", LogKey.partition: "\(message.partition)",
            LogKey.offset: "\(message.offset)", LogKey.error: "\(cause)"])
        Counter(label: "card_reference_records_rejected_total", dimensions: [("worker", worker), ("topic", message.topic)]).increment()
        let letter = DeadLetters.message(for: InboundMessage(message: message, attempt: 1, firstSeenAt: Date()),
                                         cause: "reference record rejected: " + cause, worker: worker,
                                         topic: deadLetterTopic, at: Date())
        try db.execute(sql: "INSERT INTO runtime_reference_dlq (topic, key, value, message_id) VALUES (?, ?, ?, ?)",
                       arguments: [letter.topic, letter.key.map { Data($0) }, Data(letter.value), letter.id])
        queueMayHoldRows = true  // also if the transaction rolls back: one read too many, nothing missed
    }

    /// A record kept after normalisation: logged and counted, not dead-lettered.
    func normalised(_ message: ConsumedMessage, notes: [String]) {
        logger.warning("reference record normalised", metadata: [
            LogKey.topic: "\(message.topic)", LogKey.partition: "\(message.partition)",
            LogKey.offset: "\(message.offset)", LogKey.error: "\(notes.joined(separator: "; "))"])
        Counter(label: "card_reference_records_normalised_total", dimensions: [("worker", worker), ("topic", message.topic)]).increment()
    }

    /// Sends queued dead letters and deletes the delivered ones. Called after each batch's
    /// transaction; failures stay queued for the next call.
    func pump(_ database: DatabasePool) throws {
        let (done, failed) = delivered.take()
        for (seq, error) in failed {
            inFlight.remove(seq)
            queueMayHoldRows = true
            logger.warning("reference dead letter not sent yet", metadata: [LogKey.error: "\(error)"])
        }
        if !done.isEmpty {
            done.forEach { inFlight.remove($0) }
            try database.write { db in
                try db.execute(sql: "DELETE FROM runtime_reference_dlq WHERE seq IN (\(done.map { _ in "?" }.joined(separator: ",")))",
                               arguments: StatementArguments(done))
            }
        }
        guard queueMayHoldRows else { return }
        let rows = try database.read { db in
            try Row.fetchAll(db, sql: "SELECT seq, topic, key, value, message_id FROM runtime_reference_dlq ORDER BY seq LIMIT 100")
        }
        // Rows in flight stay in the table until their report: read again until none is left.
        queueMayHoldRows = !rows.isEmpty
        for row in rows {
            let seq: Int64 = row["seq"]
            guard !inFlight.contains(seq) else { continue }
            let key: Data? = row["key"]
            let value: Data = row["value"]
            let record = ProducerRecord(topic: row["topic"], key: key.map { Array($0) }, value: Array(value),
                                        headers: [KafkaHeader(name: messageIDHeader, string: row["message_id"])])
            let producer = try self.producer ?? KafkaProducer(configuration: producerConfiguration, logger: logger)
            self.producer = producer
            try producer.enqueue(record) { [delivered] error in delivered.record(seq: seq, error: error) }
            inFlight.insert(seq)
        }
    }

    func flush() { try? producer?.flush(timeout: .seconds(5)) }
}
