import Foundation
import GRDB
import Kafka
import Logging
import SQLiteChangeset
import Testing

@testable import WorkerRuntime

/// Issue 13, step 4: which changelog records make a partition's state, and the restore itself.
@Suite("State changelog: restore")
struct ChangelogRestoreTests {
    private func entry(_ version: Int64, after predecessor: Int64, epoch: Int64, at offset: Int64) -> ChangelogEntry {
        ChangelogEntry(version: version, predecessor: predecessor, epoch: epoch, offset: offset, changeset: [UInt8(offset & 0xff)])
    }

    @Test("a plain chain is applied in order; a record sent twice counts once")
    func plainChainAndDuplicates() throws {
        let entries = [entry(1, after: 0, epoch: 5, at: 0), entry(2, after: 1, epoch: 5, at: 1), entry(2, after: 1, epoch: 5, at: 2),
                       entry(3, after: 2, epoch: 5, at: 3)]
        let chain = try ChangelogChain.select(entries)
        #expect(chain.map(\.version) == [1, 2, 3])
        #expect(chain.map(\.offset) == [0, 2, 3], "the later copy of version 2")
    }

    @Test("a zombie's records (lower epoch, written after the new owner began) are left out; the new owner's chain wins")
    func zombieRecordsIgnored() throws {
        // Owner A (epoch 1) wrote 1..2; B restored at 2 and wrote 3, 4 with epoch 2; A, paused past its
        // session, woke and wrote its own 3 and 4 (epoch 1), interleaved.
        let entries = [entry(1, after: 0, epoch: 1, at: 0), entry(2, after: 1, epoch: 1, at: 1),
                       entry(3, after: 2, epoch: 1, at: 2), entry(3, after: 2, epoch: 2, at: 3),
                       entry(4, after: 3, epoch: 1, at: 4), entry(4, after: 3, epoch: 2, at: 5)]
        let chain = try ChangelogChain.select(entries)
        #expect(chain.map(\.offset) == [0, 1, 3, 5])
        // A zombie that wrote before the new owner's first record is left out too.
        let early = [entry(1, after: 0, epoch: 1, at: 0), entry(2, after: 1, epoch: 1, at: 1), entry(2, after: 1, epoch: 2, at: 2)]
        #expect(try ChangelogChain.select(early).map(\.offset) == [0, 2])
    }

    @Test("a missing predecessor is an error naming the version, not a silent partial state")
    func gapIsAnError() throws {
        let error = #expect(throws: StateChangelogError.self) {
            try ChangelogChain.select([entry(2, after: 1, epoch: 1, at: 0), entry(3, after: 2, epoch: 1, at: 1)])
        }
        #expect(error?.description.contains("no record of version 1") == true)
        #expect(try ChangelogChain.select([]).isEmpty)
    }

    @Test("a local file is used only when the changelog is empty or its newest state is one the file went through")
    func checkpointRule() {
        let local = StatePoint(version: 10, epoch: 2 << 16)
        #expect(ChangelogChain.useLocal(local, newest: nil))
        #expect(ChangelogChain.useLocal(local, newest: StatePoint(version: 10, epoch: 2 << 16)), "the file is the changelog's head")
        #expect(!ChangelogChain.useLocal(local, newest: StatePoint(version: 11, epoch: 2 << 16)), "the file is behind its own changelog")
        #expect(!ChangelogChain.useLocal(local, newest: StatePoint(version: 9, epoch: 3 << 16)), "another owner moved on from an earlier state")
        #expect(!ChangelogChain.useLocal(StatePoint(version: 0, epoch: 0), newest: StatePoint(version: 1, epoch: 1 << 16)), "a missing file")

        // Its own records, still queued (delivered or not), or its anchor: nobody wrote after it.
        var history = LocalHistory(checkpoint: StatePoint(version: 12, epoch: 5 << 16 | 7), anchor: StatePoint(version: 9, epoch: 4 << 16 | 1),
                                   queued: [StatePoint(version: 10, epoch: 5 << 16 | 7), StatePoint(version: 11, epoch: 5 << 16 | 7),
                                            StatePoint(version: 12, epoch: 5 << 16 | 7)])
        #expect(ChangelogChain.useLocal(history, newest: StatePoint(version: 9, epoch: 4 << 16 | 1)), "none of its records left yet")
        #expect(ChangelogChain.useLocal(history, newest: StatePoint(version: 11, epoch: 5 << 16 | 7)), "some left, the last not yet")
        history.queued = []
        history.anchor = StatePoint(version: 12, epoch: 5 << 16 | 7)
        #expect(ChangelogChain.useLocal(history, newest: StatePoint(version: 12, epoch: 5 << 16 | 7)), "all delivered, queue emptied")

        // The 100,000 chaos run's case: owner A opened at (204, g) and wrote 205 under (g+1)|high
        // bits, killed before the record left; owner B restored 204 and wrote 205…256 under
        // (g+1)|lower bits. A's file has the higher epoch, and is stale: restore.
        let stale = LocalHistory(checkpoint: StatePoint(version: 205, epoch: 5 << 16 | 0xF000), anchor: StatePoint(version: 204, epoch: 4 << 16 | 3),
                                 queued: [StatePoint(version: 205, epoch: 5 << 16 | 0xF000)])
        #expect(!ChangelogChain.useLocal(stale, newest: StatePoint(version: 256, epoch: 5 << 16 | 0x0100)))
        #expect(!ChangelogChain.useLocal(stale, newest: StatePoint(version: 205, epoch: 5 << 16 | 0x0100)), "same version, another owner's")
    }

    private struct Handler: WorkerHandler {
        var inputTopics: [String] { ["test.input"] }
        func migrate(_ migrator: inout DatabaseMigrator) {
            migrator.registerMigration("tally-v1") { db in
                try db.execute(sql: "CREATE TABLE tally (key TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            }
        }
        func handle(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult { .done([]) }
    }

    @Test("restored from Kafka into a fresh folder: the same rows, the undelivered outbox included, and the old file replaced whole",
          .timeLimit(.minutes(2)))
    func restoreThroughKafka() throws {
        let logger = Logger(label: "test.restore")
        let cluster = try EmbeddedCluster(logger: logger)
        try cluster.createTopic(TopicSpec(name: "test.output", partitions: 1))
        try cluster.createTopic(TopicSpec(name: "card.tally-changelog", partitions: 2))
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("restore-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let (sourceDir, targetDir) = (root.appendingPathComponent("a"), root.appendingPathComponent("b"))
        for dir in [sourceDir, targetDir] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }

        let source = try PartitionStore(directory: sourceDir, partition: 1, handler: Handler())
        try source.enableChangelog(topic: "card.tally-changelog")
        for (i, key) in ["a", "b", "a", "c"].enumerated() {
            try source.write { db in
                try db.execute(sql: "INSERT INTO tally (key, n) VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1", arguments: [key])
                try PartitionStore.recordOffset(db, topic: "test.input", partition: 1, next: Int64(i + 1))
                _ = try PartitionStore.append(db, OutboundMessage(topic: "test.output", key: key, value: Array("v".utf8), id: "\(key)/\(i)"))
            }
        }
        // Send only the changelog (the outputs' topic is never read here): the records are delivered,
        // the outbox rows stay undelivered in the file, as when the old owner died before its relay.
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers)),
                                         logger: logger)
        for record in try source.queuedChangelogRecords() {
            for part in record.producerRecords(topic: "card.tally-changelog", partition: 1, partBytes: 900_000) {
                try producer.enqueue(part) { _ in }
            }
        }
        try producer.flush(timeout: .seconds(10))

        // A stale file in the target folder, and a leftover of an interrupted restore.
        let stale = try PartitionStore(directory: targetDir, partition: 1, handler: Handler())
        try stale.database.write { try $0.execute(sql: "INSERT INTO tally (key, n) VALUES ('stale', 1)") }
        try stale.close()
        try Data("junk".utf8).write(to: URL(fileURLWithPath: PartitionStore.fileURL(directory: targetDir, partition: 1).path + ".restoring"))

        let reader = ChangelogReader(topic: "card.tally-changelog", kafka: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        let tails = try reader.tails(partitions: [0, 1])
        #expect(tails[0] == ChangelogReader.Tail(low: 0, high: 0, newest: nil), "an empty partition")
        let tail = try #require(tails[1])
        #expect(tail.high - tail.low == 4 && tail.newest?.version == 4)
        #expect(!ChangelogChain.useLocal(StatePoint(version: 0, epoch: 0), newest: tail.newest))
        var reported: [Int64] = []
        let entries = try reader.entries(partition: 1, low: tail.low, high: tail.high) { reported.append($0) }
        #expect(reported.last == 4)
        let chain = try ChangelogChain.select(entries)
        var applied: [(Int, Int)] = []
        let conflicts = try ChangelogRestore.restore(chain, directory: targetDir, partition: 1, handler: Handler()) { applied.append(($0, $1)) }
        #expect(conflicts == 0 && applied.last.map { $0 == (4, 4) } == true)
        #expect(!FileManager.default.fileExists(atPath: PartitionStore.fileURL(directory: targetDir, partition: 1).path + ".restoring"))

        let restored = try PartitionStore(directory: targetDir, partition: 1, handler: Handler())
        let tally = { (store: PartitionStore) in try store.database.read { try String.fetchAll($0, sql: "SELECT key || '=' || n FROM tally ORDER BY key") } }
        #expect(try tally(restored) == ["a=2", "b=1", "c=1"], "the stale row is gone with the stale file")
        #expect(try tally(restored) == tally(source))
        #expect(try restored.storedOffsets(topics: ["test.input"]).first?.offset == 4)
        #expect(try restored.outboxRows(after: 0, limit: 10).map { $0.record.headers.last?.stringValue } == ["a/0", "b/1", "a/2", "c/3"],
                "the old owner's undelivered outputs, for the new owner's relay")
        #expect(try restored.checkpoint().version == 4)
        #expect(try restored.history().anchor == StatePoint(version: 4, epoch: chain.last?.epoch ?? -1), "a restored file is anchored at the chain's head")
        #expect(try restored.history().queued.isEmpty)
        try restored.enableChangelog(topic: "card.tally-changelog", seenEpoch: entries.map(\.epoch).max() ?? 0)
        #expect(restored.changelog.map { $0.epoch >> 16 } == 2, "the new owner is a later generation")
        // The new owner's relay may send every restored row: their records are delivered.
        let relay = try OutboxRelay(store: restored, producer: producer)
        #expect(try relay.drain(timeout: .seconds(30)))
        #expect(try restored.outboxDepth() == 0)
    }

    @Test("catch-up: a file at a state of the chain gets only the records after it, in place; a standby copy counts as current only at the head, its queue emptied, and one ahead is restored",
          .timeLimit(.minutes(2)))
    func catchUpInPlaceAndStandbyRule() throws {
        let logger = Logger(label: "test.catch-up")
        let cluster = try EmbeddedCluster(logger: logger)
        let topic = "card.tally-changelog"
        try cluster.createTopic(TopicSpec(name: topic, partitions: 1))
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("catch-up-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let (ownerDir, copyDir) = (root.appendingPathComponent("owner"), root.appendingPathComponent("copy"))
        for dir in [ownerDir, copyDir] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers)),
                                         logger: logger)
        let owner = try PartitionStore(directory: ownerDir, partition: 0, handler: Handler())
        try owner.enableChangelog(topic: topic)
        func write(_ key: String) throws {
            try owner.write { try $0.execute(sql: "INSERT INTO tally (key, n) VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1", arguments: [key]) }
        }
        func send(through version: Int64) throws {
            for record in try owner.queuedChangelogRecords() where record.version <= version {
                for part in record.producerRecords(topic: topic, partition: 0, partBytes: 900_000) { try producer.enqueue(part) { _ in } }
            }
            try producer.flush(timeout: .seconds(10))
        }
        let tally = { (store: PartitionStore) in try store.database.read { try String.fetchAll($0, sql: "SELECT key || '=' || n FROM tally ORDER BY key") } }
        let reader = ChangelogReader(topic: topic, kafka: .init(bootstrapServers: cluster.bootstrapServers), logger: logger)
        let open = { (dir: URL) in { try PartitionStore(directory: dir, partition: 0, handler: Handler()) } }

        // The copy is restored at version 2, then the owner writes 3 and 4.
        for key in ["a", "b"] { try write(key) }
        try send(through: 2)
        var copy = try open(copyDir)()
        let first = try ChangelogCatchUp(reader: reader, directory: copyDir, partition: 0, handler: Handler(), logger: logger, role: "standby",
                                         exactHead: true).run(store: copy, tail: try #require(reader.tails(partitions: [0])[0]), open: open(copyDir))
        copy = first.store
        #expect(first.state.version == 2 && first.readInFull)
        for key in ["a", "c"] { try write(key) }
        try send(through: 4)
        let atTwo = try tally(copy)

        // Brought forward in place: the same file, only versions 3 and 4 applied, anchored at the head.
        let second = try ChangelogCatchUp(reader: reader, directory: copyDir, partition: 0, handler: Handler(), logger: logger, role: "active")
            .run(store: copy, tail: try #require(reader.tails(partitions: [0])[0]), open: open(copyDir))
        #expect(second.store === copy, "caught up in place, not restored into a new file")
        #expect(second.state.version == 4 && second.restoredAfterSnapshotBytes == nil)
        #expect(atTwo == ["a=1", "b=1"])
        #expect(try tally(copy) == tally(owner))
        #expect(try copy.history().anchor == second.state)

        // The owner's own file, its delivered records still queued: as a standby copy it is current
        // (the head is its own state) and its queue is emptied, since a copy never sends.
        #expect(try owner.history().queued.count == 4)
        let asCopy = try ChangelogCatchUp(reader: reader, directory: ownerDir, partition: 0, handler: Handler(), logger: logger, role: "standby",
                                          exactHead: true).run(store: owner, tail: try #require(reader.tails(partitions: [0])[0]), open: open(ownerDir))
        #expect(!asCopy.readInFull && asCopy.state.version == 4)
        #expect(try owner.history().queued.isEmpty)

        // Ahead of the changelog with a record of its own (never delivered): the owner's rule would use
        // it as is (the head is a state it went through), a copy's is restored to the head.
        try write("z")
        #expect(ChangelogChain.useLocal(try owner.history(), newest: try reader.tails(partitions: [0])[0]?.newest))
        let restored = try ChangelogCatchUp(reader: reader, directory: ownerDir, partition: 0, handler: Handler(), logger: logger, role: "standby",
                                            exactHead: true).run(store: owner, tail: try #require(reader.tails(partitions: [0])[0]), open: open(ownerDir))
        #expect(restored.store !== owner && restored.state.version == 4)
        #expect(try tally(restored.store) == ["a=2", "b=1", "c=1"], "the undelivered version 5 is not the chain's")
    }
}
