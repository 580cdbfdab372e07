import Foundation
import FleetSupport
import GRDB
import Kafka
import Logging
import SQLiteChangeset
import Testing

@testable import WorkerRuntime

/// Issue 13, step 3: every transaction that changes a partition file queues one changelog record in
/// that transaction; the relay sends it before the transaction's outputs.
@Suite("State changelog: writing and relaying records", .serialized, .timeLimit(.minutes(3)))
struct ChangelogRelayTests {
    private struct Handler: WorkerHandler {
        var inputTopics: [String] { ["test.input"] }
        func migrate(_ migrator: inout DatabaseMigrator) {
            migrator.registerMigration("tally-v1") { db in
                try db.execute(sql: "CREATE TABLE tally (key TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            }
        }
        func handle(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult { .done([]) }
    }

    private final class Fixture {
        let logger = Logger(label: "test.changelog-relay")
        let cluster: EmbeddedCluster
        let directory: URL
        let store: PartitionStore
        let producer: KafkaProducer
        static let partition: Int32 = 3

        /// - Parameter changelogPartitions: partitions of the changelog topic (fewer than 4: partition 3 cannot be written).
        init(changelogPartitions: Int32 = 4, messageMaxBytes: Int? = nil) throws {
            cluster = try EmbeddedCluster(logger: logger)
            try cluster.createTopic(TopicSpec(name: "test.output", partitions: 1))
            try cluster.createTopic(TopicSpec(name: "card.tally-changelog", partitions: changelogPartitions))
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("changelog-relay-\(UUID().uuidString)")
            for folder in ["source", "copy"] {
                try FileManager.default.createDirectory(at: directory.appendingPathComponent(folder), withIntermediateDirectories: true)
            }
            store = try PartitionStore(directory: directory.appendingPathComponent("source"), partition: Self.partition, handler: Handler())
            try store.enableChangelog(topic: "card.tally-changelog")
            var configuration = KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers))
            if let messageMaxBytes { configuration.client.extraProperties["message.max.bytes"] = String(messageMaxBytes) }
            producer = try KafkaProducer(configuration: configuration, logger: logger)
        }

        /// One transaction as a batch writes it: a state change and `outputs` outbox rows.
        func batch(_ key: String, outputs: Int, valueBytes: Int = 8) throws {
            try store.write { db in
                try db.execute(sql: "INSERT INTO tally (key, n) VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1", arguments: [key])
                for i in 0..<outputs {
                    _ = try PartitionStore.append(db, OutboundMessage(topic: "test.output", key: key,
                                                                     value: [UInt8](repeating: UInt8(ascii: "v"), count: valueBytes), id: "\(key)/\(i)"))
                }
            }
        }

        func read(_ topic: String, timeout: Duration = .seconds(20), until done: @escaping ([ConsumedMessage]) -> Bool) throws -> [ConsumedMessage] {
            let reader = try TopicReader(bootstrapServers: cluster.bootstrapServers)
            try reader.start([topic])
            return reader.read(timeout: timeout, until: done).messages
        }

        deinit { try? FileManager.default.removeItem(at: directory) }
    }

    private static func header(_ message: ConsumedMessage, _ name: String) -> String? { message.header(name)?.stringValue }

    @Test("the outbox depth follows every write, committed or rolled back, and is read from the file once per write")
    func outboxDepthFollowsWrites() throws {
        let fixture = try Fixture()
        #expect(try fixture.store.outboxDepth() == 0)
        try fixture.batch("a", outputs: 3)
        #expect(try fixture.store.outboxDepth() == 3)
        struct Rollback: Error {}
        #expect(throws: Rollback.self) {
            try fixture.store.write { db in
                try PartitionStore.deleteOutbox(db, seqs: [1, 2, 3])
                throw Rollback()
            }
        }
        #expect(try fixture.store.outboxDepth() == 3, "a rolled-back delete leaves the rows")
        try fixture.store.write { try PartitionStore.deleteOutbox($0, seqs: [1, 2]) }
        #expect(try fixture.store.outboxDepth() == 1)
        // Between writes the answer is the one read: a change made behind `write`'s back is not seen
        // until the next write (a live store is written only through `write`).
        try fixture.store.database.write { try PartitionStore.deleteOutbox($0, seqs: [3]) }
        #expect(try fixture.store.outboxDepth() == 1)
        try fixture.store.write { _ in }
        #expect(try fixture.store.outboxDepth() == 0)
    }

    @Test("each changing transaction is one record with version +1, its predecessor and the epoch; applied in version order they rebuild the file")
    func recordsRebuildTheFile() throws {
        let fixture = try Fixture()
        try fixture.store.write { _ in }  // no change: no version, no record
        for key in ["a", "b", "a"] { try fixture.batch(key, outputs: 2) }
        #expect(fixture.store.changelog?.version == 3)
        let checkpoint = try fixture.store.checkpoint()
        #expect(checkpoint.version == 3 && checkpoint.epoch >> 16 == 1, "first generation")
        #expect(try fixture.store.queuedChangelogRecords().map(\.version) == [1, 2, 3], "queued in the transactions that made them")

        let relay = try OutboxRelay(store: fixture.store, producer: fixture.producer)
        #expect(try relay.drain(timeout: .seconds(30)), "outbox and changelog queue empty at the end")
        #expect(try fixture.store.queuedChangelogRecords().isEmpty)
        let history = try fixture.store.history()
        #expect(history.anchor == history.checkpoint && history.checkpoint.version == 4,
                "every record delivered and its queue row deleted: the anchor is the file's state (\(history))")
        #expect(ChangelogChain.useLocal(history, newest: history.checkpoint), "a plain restart uses the file as it is")
        let outputs = try fixture.read("test.output") { $0.count >= 6 }
        #expect(outputs.count == 6)

        // The drain's deletion of delivered rows is a change too: version 4, with deletes only.
        let records = try fixture.read("card.tally-changelog") { $0.count >= 4 }
        #expect(records.allSatisfy { $0.partition == Fixture.partition })
        #expect(records.map { Self.header($0, StateChangelog.versionHeader) } == ["1", "2", "3", "4"])
        #expect(records.map { Self.header($0, StateChangelog.predecessorHeader) } == ["0", "1", "2", "3"])
        #expect(records.allSatisfy { Self.header($0, StateChangelog.epochHeader) == String(checkpoint.epoch) })
        #expect(try Changeset(bytes: records[3].value ?? []).counts().deletes == 6)

        let copy = try PartitionStore(directory: fixture.directory.appendingPathComponent("copy"), partition: Fixture.partition, handler: Handler())
        try copy.database.write { db in
            for record in records { try Changeset(bytes: record.value ?? []).apply(to: db, policy: .abort) }
        }
        let rows = { (store: PartitionStore) in
            try store.database.read { try String.fetchAll($0, sql: "SELECT key || '=' || n FROM tally ORDER BY key") }
        }
        #expect(try rows(copy) == ["a=2", "b=1"])
        #expect(try copy.checkpoint().version == 4, "the version row travels in the changeset")
        #expect(try copy.outboxDepth() == 0)

        // A new owner opening the file is a new epoch.
        let reopened = try PartitionStore(directory: fixture.directory.appendingPathComponent("source"), partition: Fixture.partition, handler: Handler())
        try reopened.enableChangelog(topic: "card.tally-changelog")
        #expect(reopened.changelog.map { $0.epoch >> 16 } == 2 && reopened.changelog?.version == 4)
        try reopened.enableChangelog(topic: "card.tally-changelog", seenEpoch: 7 << 16 | 5)
        #expect(reopened.changelog.map { $0.epoch >> 16 } == 8, "above any epoch the changelog holds")
    }

    @Test("outputs wait for their transaction's changelog record: while it has no delivery report, only the record is handed to the producer")
    func outputsWaitForTheRecord() throws {
        let fixture = try Fixture()
        try fixture.batch("a", outputs: 3)
        // A producer whose broker never answers: the record is enqueued, its report never comes.
        let unreachable = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: "127.0.0.1:1")),
                                            logger: fixture.logger)
        let relay = try OutboxRelay(store: fixture.store, producer: unreachable)
        try fixture.store.write { db in  // a second transaction while the first record waits
            _ = try PartitionStore.append(db, OutboundMessage(topic: "test.output", key: "b", value: Array("v".utf8), id: "b/0"))
        }
        #expect(try !relay.drain(timeout: .seconds(2)))
        #expect(unreachable.outstanding == 2, "the two changelog records, none of the 4 outputs")
        #expect(try fixture.store.outboxDepth() == 4)
        #expect(try fixture.store.queuedChangelogRecords().map(\.version) == [1, 2])

        // The same file with a reachable broker: records first, then every output.
        let relay2 = try OutboxRelay(store: fixture.store, producer: fixture.producer)
        #expect(try relay2.drain(timeout: .seconds(30)))
        #expect(try fixture.read("test.output") { $0.count >= 4 }.count == 4)
    }

    @Test("rows offered while their records wait are held in memory and sent in seq order; past the held limit the table serves, and every row goes once")
    func heldRowsGoInOrder() throws {
        let fixture = try Fixture()
        let relay = try OutboxRelay(store: fixture.store, producer: fixture.producer)
        try relay.pump()
        #expect(relay.heldIsComplete, "an empty outbox is wholly in memory")
        func transaction(_ key: String, outputs: Int, valueBytes: Int) throws {
            let rows = try fixture.store.write { db in
                try (0..<outputs).map { i in
                    try PartitionStore.append(db, OutboundMessage(topic: "test.output", key: key,
                                                                  value: [UInt8](repeating: UInt8(ascii: "v"), count: valueBytes), id: "\(key)/\(i)"))
                }
            }
            try relay.offer(rows)  // its changelog record has no delivery report yet: held
        }
        for key in ["a", "b", "c"] { try transaction(key, outputs: 4, valueBytes: 100) }
        #expect(relay.heldIsComplete, "12 small rows fit")
        // 3 × 200 KB is over the 512 KiB limit: the relay forgets what it held and reads the table.
        try transaction("big", outputs: 3, valueBytes: 200_000)
        #expect(!relay.heldIsComplete)
        try transaction("d", outputs: 2, valueBytes: 100)
        #expect(try relay.drain(timeout: .seconds(30)))
        #expect(relay.heldIsComplete, "the table emptied: memory serves again")
        // A row appended without `offer` (a tool, a test): the seq the file allocated for it gives it away.
        try fixture.store.write { db in
            _ = try PartitionStore.append(db, OutboundMessage(topic: "test.output", key: "e", value: Array("v".utf8), id: "e/0"))
        }
        try transaction("f", outputs: 1, valueBytes: 100)
        #expect(try relay.drain(timeout: .seconds(30)))
        let expected = ["a", "b", "c"].flatMap { key in (0..<4).map { "\(key)/\($0)" } } + (0..<3).map { "big/\($0)" } + ["d/0", "d/1", "e/0", "f/0"]
        let outputs = try fixture.read("test.output") { $0.count >= expected.count }
        #expect(outputs.compactMap { $0.header(messageIDHeader)?.stringValue } == expected, "one partition: seq order, each once")
        #expect(PartitionStore.consecutiveRuns([5, 1, 2, 3, 7, 2, 6, 9]) == [1...3, 5...7, 9...9])
        #expect(PartitionStore.consecutiveRuns([Int64.max, Int64.max - 1]) == [(Int64.max - 1)...Int64.max])
        let row = { (seq: Int64) in PartitionStore.OutboxRow(seq: seq, record: ProducerRecord(topic: "t", key: nil, value: [])) }
        #expect(OutboxRelay.follows([row(5), row(6)], 4) && OutboxRelay.follows([], 4))
        #expect(!OutboxRelay.follows([row(5), row(7)], 4), "a row of the same commit not offered hides between 5 and 7")
        #expect(!OutboxRelay.follows([row(6)], 4))
    }

    @Test("an output sent from memory is the record a re-send reads from the table: nil and empty keys, header order, explicit partition")
    func heldRecordIsTheStoredRecord() throws {
        let fixture = try Fixture()
        let messages = [
            OutboundMessage(topic: "test.output", key: nil, value: Array("a".utf8), id: "m/0",
                            headers: [KafkaHeader(name: "b", string: "2"), KafkaHeader(name: "a", string: ""), KafkaHeader(name: "b", string: "1")]),
            OutboundMessage(topic: "test.output", key: [], value: [], id: "m/1", headers: [], partition: 0),
            OutboundMessage(topic: "test.output", key: Array("k".utf8), value: Array("c".utf8), id: "m/2", headers: [KafkaHeader(name: "x", value: [0, 255])]),
        ]
        let appended = try fixture.store.write { db in try messages.map { try PartitionStore.append(db, $0) } }
        let stored = try fixture.store.outboxRows(after: 0, limit: 10)
        #expect(stored.map(\.seq) == appended.map(\.seq))
        #expect(stored.map(\.record) == appended.map(\.record))
    }

    @Test("a changeset over one record's size goes in parts, each with its part header, and reassembles")
    func largeChangesetInParts() throws {
        let fixture = try Fixture(messageMaxBytes: 40_000)
        try fixture.batch("big", outputs: 5, valueBytes: 20_000)  // ~100 KB of outbox rows in one transaction
        let relay = try OutboxRelay(store: fixture.store, producer: fixture.producer)
        #expect(try relay.drain(timeout: .seconds(30)))
        let records = try fixture.read("card.tally-changelog") { $0.contains { Self.header($0, StateChangelog.versionHeader) == "2" } }
        let first = records.filter { Self.header($0, StateChangelog.versionHeader) == "1" }
        #expect(first.count > 1)
        #expect(first.map { Self.header($0, StateChangelog.partHeader) } == (1...first.count).map { "\($0)/\(first.count)" })
        let whole = Changeset(bytes: first.flatMap { $0.value ?? [] })
        #expect(try whole.counts().inserts == 7, "the tally row, the version row and 5 outbox rows")
        #expect(try fixture.read("test.output") { $0.count >= 5 }.count == 5)
    }

    @Test("CARD_STATE_CHANGELOG and the cluster's topics decide the changelog; a topic not co-partitioned is refused")
    func modeResolution() throws {
        #expect(try StateChangelogMode.fromEnvironment([:]) == .auto)
        #expect(try StateChangelogMode.fromEnvironment(["CARD_STATE_CHANGELOG": "OFF"]) == .off)
        #expect(throws: StateChangelogError.self) { try StateChangelogMode.fromEnvironment(["CARD_STATE_CHANGELOG": "yes"]) }
        let counts: [String: Int32] = ["in": 4, "card.w-changelog": 4]
        #expect(try StateChangelog.resolve(mode: .auto, worker: "w", inputTopics: ["in"], counts: counts) == "card.w-changelog")
        #expect(try StateChangelog.resolve(mode: .off, worker: "w", inputTopics: ["in"], counts: counts) == nil)
        #expect(try StateChangelog.resolve(mode: .auto, worker: "v", inputTopics: ["in"], counts: counts) == nil)
        #expect(throws: StateChangelogError.self) { try StateChangelog.resolve(mode: .on, worker: "v", inputTopics: ["in"], counts: counts) }
        let error = #expect(throws: StateChangelogError.self) {
            try StateChangelog.resolve(mode: .auto, worker: "w", inputTopics: ["in"], counts: ["in": 6, "card.w-changelog": 4])
        }
        #expect(error?.description.contains("card.w-changelog has 4 partitions, input in has 6") == true)
    }
}
