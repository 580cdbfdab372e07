import Foundation
import GRDB
import Kafka

/// The header carrying every emitted message's deterministic id (`application_id/stage/seq` or similar).
public let messageIDHeader = "card-message-id"

/// A message handed to a handler, with its retry history.
public struct InboundMessage: Sendable {
    public var message: ConsumedMessage
    /// 1 on first delivery; more when the handler asked to retry it.
    public var attempt: Int
    /// When this worker first saw it (the retry clock for grace periods).
    public var firstSeenAt: Date

    public var topic: String { message.topic }
    public var partition: Int32 { message.partition }
    public var offset: Int64 { message.offset }
    public var key: [UInt8]? { message.key }
    public var value: [UInt8]? { message.value }
    /// The deterministic id the upstream stage stamped, if any.
    public var messageID: String? { message.header(messageIDHeader)?.stringValue }
}

/// A message to emit. Its `id` must be deterministic: the same input yields the same id,
/// so a re-send after a crash is recognised downstream as the same message.
public struct OutboundMessage: Sendable, Hashable {
    public var topic: String
    public var key: [UInt8]?
    public var value: [UInt8]
    public var id: String
    public var headers: [KafkaHeader]
    /// An explicit partition, or `nil` to let the producer's partitioner place it by key (murmur2).
    public var partition: Int32?

    public init(topic: String, key: [UInt8]?, value: [UInt8], id: String, headers: [KafkaHeader] = [], partition: Int32? = nil) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.id = id
        self.headers = headers
    }

    public init(topic: String, key: String, value: [UInt8], id: String, headers: [KafkaHeader] = []) {
        self.init(topic: topic, key: Array(key.utf8), value: value, id: id, headers: headers)
    }

    /// The record as the outbox relay sends it: its headers plus `card-message-id: <id>`, by which
    /// the next worker drops what it already applied. What the size guard measures, too.
    var outboxRecord: ProducerRecord {
        ProducerRecord(topic: topic, partition: partition, key: key, value: value,
                       headers: headers + [KafkaHeader(name: messageIDHeader, string: id)])
    }
}

/// What a handler decided about one message.
public enum HandlerResult: Sendable {
    /// Applied: these messages go out (possibly none).
    case done([OutboundMessage])
    /// Not possible yet (e.g. a reference record not there yet): try again after a backoff,
    /// without holding up the messages behind it.
    case retry(reason: String)
    /// Cannot ever be processed: to the dead-letter topic with `cause` (personal data is masked again there).
    case deadLetter(cause: String)
}

/// What a handler may see besides the message.
public struct HandlerContext: Sendable {
    /// The worker's clock (driven in tests).
    public var now: Date
    /// The partition number whose state the transaction holds.
    public var partition: Int32
    /// Reference tables materialised from compacted topics, if the worker declared any.
    public var reference: (any DatabaseReader)?
}

/// A reference table materialised in full by every instance from a compacted topic.
public protocol ReferenceTable: Sendable {
    var topic: String { get }
    func migrate(_ migrator: inout DatabaseMigrator)
    /// Applies one record (a `nil` value is a tombstone) to the table.
    func apply(key: [UInt8]?, value: [UInt8]?, in db: Database) throws
    /// Applies one record and returns what was normalised on the way (masked notes, reported
    /// as a warning); throws ``ReferenceRecordRejected`` for a record that cannot be read,
    /// which the loader reports loudly and dead-letters. Default: `apply`, nothing normalised.
    func applyReporting(key: [UInt8]?, value: [UInt8]?, in db: Database) throws -> [String]
}

extension ReferenceTable {
    public func applyReporting(key: [UInt8]?, value: [UInt8]?, in db: Database) throws -> [String] {
        try apply(key: key, value: value, in: db)
        return []
    }
}

/// The part of a worker that is its own: topics, state schema, and what a message does.
///
/// Everything else (transactions, offsets, outbox, dedup, retries, dead letters, shutdown,
/// metrics) is the runtime's. `handle` runs inside the batch's SQLite transaction, in a
/// savepoint of its own: a thrown error rolls back just that message, which is dead-lettered.
public protocol WorkerHandler: Sendable {
    /// Topics consumed in the group. Co-partitioned: partition N of each shares one state file.
    var inputTopics: [String] { get }
    /// Compacted topics materialised in full by every instance.
    var referenceTables: [any ReferenceTable] { get }
    /// Adds this worker's migrations for its per-partition state.
    func migrate(_ migrator: inout DatabaseMigrator)
    func handle(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult
    /// Runs every `tickInterval` per open partition when ``ticks`` is true: time-driven outputs
    /// (e.g. overdue orders), Kafka Streams' wall-clock punctuation.
    func tick(in db: Database, context: HandlerContext) throws -> [OutboundMessage]
    /// Whether ``tick(in:context:)`` has anything to do. Default false: the loop then opens no write
    /// transaction per partition every `tickInterval` (24 a second per worker, idle or not, for a
    /// tick that returns nothing). A handler that implements `tick` sets it to true.
    var ticks: Bool { get }
    /// Runs every `stageReportInterval` per open partition, read-only: the stage's unfinished
    /// applications and recent time-in-stage, published as `card_stage_*` gauges. Default: none.
    func stageReport(in db: Database, context: HandlerContext, window: Duration) throws -> [StageReport]
    /// Who writes `topic`: the fleet (its `card-message-id` dedups) or the world outside (see `InputOrigin`). Default `.fleet`.
    func origin(of topic: String) -> InputOrigin
    /// The contract's key of a record on an outside-written input topic, from its value, or `nil` when
    /// it names none the worker would keep state under (see `InputOrigin`). Default `nil`.
    func contractKey(of message: InboundMessage) -> [UInt8]?
}

extension WorkerHandler {
    public var referenceTables: [any ReferenceTable] { [] }
    public func tick(in db: Database, context: HandlerContext) throws -> [OutboundMessage] { [] }
    public var ticks: Bool { false }
    public func stageReport(in db: Database, context: HandlerContext, window: Duration) throws -> [StageReport] { [] }
    public func origin(of topic: String) -> InputOrigin { .fleet }
    public func contractKey(of message: InboundMessage) -> [UInt8]? { nil }
}

/// An error a handler throws when trying again later can succeed (the message is retried, not dead-lettered).
public struct RetriableHandlerError: Error, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// An error a handler throws for a message that can never be processed: it is dead-lettered
/// with `cause` (masked there), exactly as if the handler had returned `.deadLetter(cause:)`.
public struct PoisonMessage: Error, CustomStringConvertible {
    public var cause: String
    public init(_ cause: String) { self.cause = cause }
    public var description: String { cause }
}
