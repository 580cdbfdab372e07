import CardDomain
import CardWorkers
import FleetSupport
import Foundation
import GRDB
import JSONCodec
import Kafka
import Logging
import WorkerRuntime

/// Input retention for `fleet chaos`, on an embedded broker that has none to configure.
///
/// librdkafka 2.0.2's mock cluster keeps no topic configs: `rd_kafka_mock_topic_create` takes a
/// name, a partition count and a replication factor, and the mock answers no CreateTopics,
/// AlterConfigs or DeleteRecords request (`rdkafka_mock_handlers.c` has no handler for them), so
/// `retention.ms` / `retention.bytes` cannot be set and records cannot be deleted by offset. What
/// it has is a fixed cap per partition: `rd_kafka_mock_msgset_new` drops the oldest message sets
/// while a partition holds more than 5 MiB (`max_size = 1024 * 1024 * 5`) or 100,000 message sets
/// (`max_cnt`). A **retention pass** uses that cap: on every partition of every worker input topic
/// that holds records it appends ``firstWave`` records of ``fillerBytes`` (4.75 MB, under the cap),
/// waits until the owners have taken them, then ``secondWave`` more (5.7 MB in all, over the cap),
/// so every record written before the pass is dropped, as `retention.ms` drops records older than
/// it. Two waves, because the cap drops whole message sets from the head: one wave over the cap
/// would drop its own first filler before the owner, positioned just before it, had read it (an
/// offset gap, as real retention gives a consumer that lags behind it).
///
/// The fillers are inputs the partition's owner drops, changing nothing but its offset:
/// - the fleet-written hops (card.identity-verification, card.bank-routing, card.card-production):
///   a record whose `card-message-id` the partition has already applied (an application that went
///   past the hop), which the runtime's dedup drops before the handler reads the value;
/// - card.submission: a copy of a submission the partition already took (its submission_id and
///   applicant), padded: intake answers "the same submission_id again changes nothing and emits nothing";
/// - card.application-closed: a well-formed close of an application nobody has (intake's UPDATE
///   and DELETE touch no row).
/// An owner whose state was rebuilt without those inputs (no changelog, fresh disk) takes them as
/// new: it rejects the padded copy (a second, different status under an id already seen) and
/// dead-letters the hop fillers. Reference topics (registry.persons, bank.branches, re-read by
/// every instance) and card.bank-events (empty during the chaos phase) are left alone.
struct InputRetention {
    static let fillerBytes = 950_000
    static let firstWave = 5
    static let secondWave = 1
    static let paddingMember = "chaos_retention_padding"
    static let topics = [CardTopics.submission, CardTopics.applicationClosed,
                         CardTopics.identityVerification, CardTopics.bankRouting, CardTopics.cardProduction]
    /// The hops whose fillers are dropped by message id.
    static let hopTopics = [CardTopics.identityVerification, CardTopics.bankRouting, CardTopics.cardProduction]

    /// A record already applied on a partition of a hop topic.
    struct Applied: Sendable {
        var partition: Int32
        var application: String
        var messageID: String
    }

    private static let padding = String(repeating: "x", count: fillerBytes)

    /// `value` (a JSON object) with the padding member first.
    static func padded(_ value: [UInt8]) -> [UInt8] {
        guard value.first == UInt8(ascii: "{") else { return value }
        let member = Array("\"\(paddingMember)\":\"\(padding)\"".utf8)
        return [UInt8(ascii: "{")] + member + (value.count > 2 ? [UInt8(ascii: ",")] : []) + value.dropFirst()
    }

    /// Pure: the fillers of pass `pass`.
    /// - Parameters:
    ///   - submissions: submissions intake has taken (each has a final status), as submitted.
    ///   - applied: per hop topic, records its consumer has applied.
    /// - Returns: the records, and the partitions that had nothing to pad with (`topic[partition]`).
    ///   - holdsRecords: whether a partition holds records (an empty one needs no filler).
    ///   - perPartition: fillers per partition (``firstWave`` or ``secondWave``).
    static func fillers(pass: Int, perPartition: Int = firstWave + secondWave, partitions: (String) -> Int32, holdsRecords: (String, Int32) -> Bool = { _, _ in true },
                        submissions: [(key: [UInt8], value: [UInt8])],
                        applied: [String: [Applied]]) -> (records: [ProducerRecord], uncovered: [String]) {
        var records: [ProducerRecord] = []
        var uncovered: [String] = []
        // card.submission: one taken submission per partition, whose Kafka key is its contract key (so intake does not re-key it).
        let count = partitions(CardTopics.submission)
        var byPartition: [Int32: (key: [UInt8], value: [UInt8])] = [:]
        for submission in submissions {
            let partition = KafkaPartitioner.fleetDefault.partition(forKey: submission.key, partitionCount: count)
            guard byPartition[partition] == nil, ContractKeys.submission(submission.value) == String(decoding: submission.key, as: UTF8.self) else { continue }
            byPartition[partition] = submission
        }
        for partition in 0..<count where holdsRecords(CardTopics.submission, partition) {
            guard let submission = byPartition[partition] else { uncovered.append("\(CardTopics.submission)[\(partition)]"); continue }
            let value = padded(submission.value)
            for _ in 0..<perPartition {
                records.append(ProducerRecord(topic: CardTopics.submission, partition: partition, key: submission.key, value: value))
            }
        }
        // card.application-closed: closes of applications nobody has, no message id (so no dedup either way).
        for partition in 0..<partitions(CardTopics.applicationClosed) where holdsRecords(CardTopics.applicationClosed, partition) {
            for i in 0..<perPartition {
                let closed = ApplicationClosed(applicationID: "chaos-retention-\(pass)-\(partition)-\(i)", applicantIDNumber: "chaos-retention",
                                               status: .rejected, at: Timestamp.now())
                guard let value = try? CardJSON.encodeBytes(closed) else { continue }
                records.append(ProducerRecord(topic: CardTopics.applicationClosed, partition: partition, key: Array("chaos-retention".utf8),
                                              value: padded(value)))
            }
        }
        // The hops: an applied message id of the partition.
        let filler = padded(Array("{}".utf8))
        for topic in hopTopics {
            var byPartition: [Int32: Applied] = [:]
            for record in applied[topic] ?? [] where byPartition[record.partition] == nil { byPartition[record.partition] = record }
            for partition in 0..<partitions(topic) where holdsRecords(topic, partition) {
                guard let record = byPartition[partition] else { uncovered.append("\(topic)[\(partition)]"); continue }
                for _ in 0..<perPartition {
                    records.append(ProducerRecord(topic: topic, partition: partition, key: Array(record.application.utf8), value: filler,
                                                  headers: [KafkaHeader(name: messageIDHeader, string: record.messageID)]))
                }
            }
        }
        return (records, uncovered)
    }
}

/// Runs the retention passes of one chaos run: waits until the fleet has caught up, writes the
/// fillers, checks with the watermarks that every older record is gone, and keeps the tally.
final class RetentionPasses {
    private let fleet: FleetUnderTest
    private let probe: LagProbe
    private let producer: Feeder
    private(set) var passes = 0
    private(set) var skipped = 0
    /// Partition logs a pass emptied of older records, and the records that went with them.
    private(set) var partitionsEmptied = 0
    private(set) var recordsDropped: Int64 = 0
    /// Partitions holding records that a pass could not push out (nothing applied there to pad with).
    private(set) var partitionsKept = 0
    private(set) var problems: [String] = []
    private var lastQuiet: [String: Int64]?

    init(fleet: FleetUnderTest, logger: Logger) throws {
        self.fleet = fleet
        probe = try LagProbe(bootstrapServers: fleet.servers, logger: logger)
        // Uncompressed: the cap counts stored (compressed) bytes, and lz4, the fleet's default, shrinks the padding to nothing.
        producer = try Feeder(servers: fleet.servers, clientID: "chaos-retention", extraProperties: ["compression.codec": "none"], logger: logger)
    }

    /// Whether every input record has been taken: for every partition of every worker input topic,
    /// the stored offset (SQLite, `runtime_offsets`) of some live instance of its worker type is at
    /// the log end, and no log end moved since the previous call (nothing was still being relayed).
    /// Reads the partition files, not the group's Kafka commits: a new owner that restored a
    /// partition with nothing new to read never commits, so its group lag would never reach 0.
    /// Blocking (a watermark request and a few SQLite reads per partition); stops at the first lag.
    func isQuiet() -> Bool {
        var ends: [String: Int64] = [:]
        let admin = probe.kafkaAdmin
        for entry in FleetUnderTest.groups {
            let directories = fleet.stateDirectories(of: entry.worker)
            for topic in entry.topics {
                for partition in 0..<fleet.partitions(of: topic) {
                    guard let marks = try? admin.watermarks(topic: topic, partition: partition) else { lastQuiet = nil; return false }
                    ends["\(topic)[\(partition)]"] = marks.high
                    guard marks.high > marks.low else { continue }
                    let stored = directories.compactMap { Self.storedOffset(in: $0, topic: topic, partition: partition) }.max() ?? -1
                    if stored < marks.high { lastQuiet = nil; return false }
                }
            }
        }
        defer { lastQuiet = ends }
        return lastQuiet == ends
    }

    /// `next_offset` of `topic`/`partition` in the partition file under `directory`, if any.
    static func storedOffset(in directory: URL, topic: String, partition: Int32) -> Int64? {
        let file = directory.appendingPathComponent(String(format: "partition-%03d.sqlite", partition))
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        var configuration = Configuration()
        configuration.readonly = true
        return try? DatabaseQueue(path: file.path, configuration: configuration).read { db in
            try Int64.fetchOne(db, sql: "SELECT next_offset FROM runtime_offsets WHERE topic = ? AND partition = ?", arguments: [topic, partition])
        }
    }

    func resetQuiet() { lastQuiet = nil }

    private var before: [String: (topic: String, partition: Int32, low: Int64, high: Int64)] = [:]
    private var uncovered: [String] = []
    private var secondWave: [ProducerRecord] = []
    private var sent = 0

    /// A pass's first wave: reads every input partition's watermarks and writes the first fillers
    /// (under the cap, so nothing the owners have not read is dropped). Blocking.
    func begin(submissions: [(key: [UInt8], value: [UInt8])], applied: [String: [InputRetention.Applied]]) {
        passes += 1
        before = [:]
        let admin = probe.kafkaAdmin
        for topic in InputRetention.topics {
            for partition in 0..<fleet.partitions(of: topic) {
                if let marks = try? admin.watermarks(topic: topic, partition: partition) {
                    before["\(topic)[\(partition)]"] = (topic, partition, marks.low, marks.high)
                }
            }
        }
        let snapshot = before
        let (records, uncovered) = InputRetention.fillers(pass: passes, partitions: fleet.partitions(of:), holdsRecords: { topic, partition in
            snapshot["\(topic)[\(partition)]"].map { $0.high > $0.low } ?? true
        }, submissions: submissions, applied: applied)
        self.uncovered = uncovered
        // Each partition's fillers are consecutive: the last `secondWave` of each group wait for the second wave.
        let group = InputRetention.firstWave + InputRetention.secondWave
        var first: [ProducerRecord] = []
        secondWave = []
        for (index, record) in records.enumerated() {
            if index % group < InputRetention.firstWave { first.append(record) } else { secondWave.append(record) }
        }
        send(first)
        lastQuiet = nil
    }

    /// The second wave, once the owners have taken the first, then the check that the log start of
    /// each partition reached its end before the pass. Blocking.
    /// - Returns: a one-line summary for the progress output.
    func finish() -> String {
        send(secondWave)
        let admin = probe.kafkaAdmin
        var emptied = 0, kept = 0, dropped: Int64 = 0
        for (name, old) in before where old.high > old.low {
            guard let marks = try? admin.watermarks(topic: old.topic, partition: old.partition) else { continue }
            if marks.low >= old.high {
                emptied += 1
                dropped += old.high - old.low
            } else if !uncovered.contains(name) {
                problems.append("retention pass \(passes): \(name) still starts at \(marks.low), before its end \(old.high) when the pass began")
            } else {
                kept += 1
            }
        }
        partitionsEmptied += emptied
        partitionsKept += kept
        recordsDropped += dropped
        lastQuiet = nil
        defer { sent = 0 }
        return "retention pass \(passes): \(sent) filler records (\(sent * InputRetention.fillerBytes / 1_000_000) MB in two waves); "
            + "\(emptied) input partition logs emptied of the \(dropped) records written before; \(kept) not (nothing applied there to pad with)"
    }

    private func send(_ records: [ProducerRecord]) {
        for record in records { producer.enqueue(record, label: "retention filler \(record.topic)[\(record.partition ?? -1)]") }
        do { try producer.flush(timeout: .seconds(120)) } catch { problems.append("retention pass \(passes): fillers not all delivered: \(error)") }
        sent += records.count
    }

    func noteSkipped() { skipped += 1; lastQuiet = nil }

    var failedDeliveries: [String] { producer.failed }
}
