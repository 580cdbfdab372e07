import Foundation
import GRDB
import Kafka
import Logging
import Testing

@testable import WorkerRuntime

/// Issue 13, snapshots: a restore starts from the newest complete, verified snapshot on the chain
/// and applies only the records after it; incomplete and corrupt snapshots are skipped.
@Suite("State changelog: snapshots")
struct ChangelogSnapshotTests {
    private func entry(_ version: Int64, after predecessor: Int64, epoch: Int64, predecessorEpoch: Int64?, at offset: Int64) -> ChangelogEntry {
        ChangelogEntry(version: version, predecessor: predecessor, epoch: epoch, offset: offset, changeset: [UInt8(offset & 0xff)],
                       predecessorEpoch: predecessorEpoch)
    }

    private func snapshot(_ version: Int64, epoch: Int64, at offset: Int64, id: String? = nil) -> ChangelogSnapshot {
        ChangelogSnapshot(id: id ?? "s\(version)-\(epoch)", state: StatePoint(version: version, epoch: epoch), offset: offset, image: [1])
    }

    /// Versions 1…6 by one owner (epoch 7), version 1 after an empty file.
    private var oneOwner: [ChangelogEntry] {
        var entries: [ChangelogEntry] = []
        for version in Int64(1)...6 {
            let predecessorEpoch: Int64 = version == 1 ? 0 : 7
            entries.append(entry(version, after: version - 1, epoch: 7, predecessorEpoch: predecessorEpoch, at: version * 10))
        }
        return entries
    }

    @Test("the newest snapshot on the chain is the base; only the records after it are applied")
    func newestSnapshotOnChain() throws {
        let plan = try ChangelogChain.plan(oneOwner, snapshots: [snapshot(2, epoch: 7, at: 25), snapshot(4, epoch: 7, at: 45)])
        #expect(plan.base?.state == StatePoint(version: 4, epoch: 7))
        #expect(plan.chain.map(\.version) == [5, 6])
        #expect(plan.head == StatePoint(version: 6, epoch: 7))
        let atHead = try ChangelogChain.plan(oneOwner, snapshots: [snapshot(6, epoch: 7, at: 65)])
        #expect(atHead.base?.state.version == 6 && atHead.chain.isEmpty, "a snapshot of the newest state needs no record")
        let none = try ChangelogChain.plan(oneOwner, snapshots: [])
        #expect(none.base == nil && none.chain.map(\.version) == [1, 2, 3, 4, 5, 6], "no snapshot: the whole chain, as before")
    }

    @Test("records deleted before a snapshot: the restore starts from it; without it, a clear error")
    func earlyRecordsGone() throws {
        let tail = oneOwner.filter { $0.version >= 4 }
        let plan = try ChangelogChain.plan(tail, snapshots: [snapshot(3, epoch: 7, at: 35)])
        #expect(plan.base?.state.version == 3 && plan.chain.map(\.version) == [4, 5, 6])
        let error = #expect(throws: StateChangelogError.self) { try ChangelogChain.plan(tail, snapshots: []) }
        #expect(error?.description.contains("no record of version 3") == true)
        #expect(throws: StateChangelogError.self, "the old rule has no snapshots") { try ChangelogChain.select(tail) }
        let onlySnapshots = try ChangelogChain.plan([], snapshots: [snapshot(3, epoch: 7, at: 35), snapshot(6, epoch: 7, at: 65)])
        #expect(onlySnapshots.base?.state.version == 6 && onlySnapshots.chain.isEmpty, "every record deleted, snapshots left")
    }

    @Test("a zombie's snapshot (same version, another writer epoch) is not on the chain and is not used")
    func zombieSnapshotIgnored() throws {
        // Owner A (epoch 1) wrote 1…2; B (epoch 2) restored at 2 and wrote 3, 4; A, paused past its
        // session, wrote its own 3 and snapshotted it.
        let entries = [entry(1, after: 0, epoch: 1, predecessorEpoch: 0, at: 0), entry(2, after: 1, epoch: 1, predecessorEpoch: 1, at: 1),
                       entry(3, after: 2, epoch: 2, predecessorEpoch: 1, at: 2), entry(3, after: 2, epoch: 1, predecessorEpoch: 1, at: 3),
                       entry(4, after: 3, epoch: 2, predecessorEpoch: 2, at: 4)]
        let plan = try ChangelogChain.plan(entries, snapshots: [snapshot(3, epoch: 1, at: 5)])
        #expect(plan.base == nil && plan.chain.map(\.offset) == [0, 1, 2, 4])
        // B's own snapshot of its version 3 is used.
        let own = try ChangelogChain.plan(entries, snapshots: [snapshot(3, epoch: 1, at: 5), snapshot(3, epoch: 2, at: 6)])
        #expect(own.base?.state == StatePoint(version: 3, epoch: 2) && own.chain.map(\.offset) == [4])
    }

    // MARK: - Snapshot records read back

    private func messages(_ records: [ProducerRecord], from offset: Int64) -> [ConsumedMessage] {
        records.enumerated().map { i, record in
            ConsumedMessage(topic: record.topic, partition: record.partition ?? 0, offset: offset + Int64(i), key: record.key,
                            value: record.value, headers: record.headers, timestampMilliseconds: nil)
        }
    }

    /// An image of `bytes` patterned bytes in a file of its own (removed by the caller's `discard`).
    private func image(bytes: Int) throws -> SnapshotImage {
        let payload = (0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("image-\(UUID().uuidString)")
        try Data(payload).write(to: file)
        return SnapshotImage(id: "img", state: StatePoint(version: 9, epoch: 3 << 16), file: file, byteCount: bytes,
                             sha256: StateSnapshot.sha256Hex(payload))
    }

    @Test("chunks and end marker reassemble to the image; a missing end marker, a missing chunk or a wrong SHA-256 is rejected")
    func assembly() throws {
        let image = try image(bytes: 10_000)
        defer { image.discard() }
        let head = StatePoint(version: 11, epoch: 3 << 16)
        let chunks = try image.chunkRecords(topic: "t", partition: 0, chunkBytes: 4096, head: head)
        #expect(chunks.count == 3)
        let end = image.endRecord(topic: "t", partition: 0, chunks: chunks.count, head: head)

        var complete = SnapshotAssembler()
        for message in messages(chunks + [end], from: 100) {
            let taken = complete.take(message)
            #expect(taken)
        }
        complete.finish()
        #expect(try complete.complete.map(\.image) == [image.bytes()] && complete.rejected.isEmpty)
        #expect(complete.complete.first?.state == image.state && complete.complete.first?.firstOffset == 100)

        var noEnd = SnapshotAssembler()
        for message in messages(Array(chunks.prefix(2)), from: 0) { _ = noEnd.take(message) }
        noEnd.finish()
        #expect(noEnd.complete.isEmpty && noEnd.rejected.first?.reason.contains("no end marker") == true)

        var gap = SnapshotAssembler()
        for message in messages([chunks[0], chunks[2], end], from: 0) { _ = gap.take(message) }
        #expect(gap.complete.isEmpty && gap.rejected.first?.reason.contains("incomplete") == true)

        var corrupt = SnapshotAssembler()
        var flipped = chunks
        flipped[1].value![17] ^= 0x01
        for message in messages(flipped + [end], from: 0) { _ = corrupt.take(message) }
        #expect(corrupt.complete.isEmpty && corrupt.rejected.first?.reason.contains("SHA-256") == true)

        var other = SnapshotAssembler()
        let takenOther = other.take(messages([ProducerRecord(topic: "t", key: nil, value: [1])], from: 0)[0])
        #expect(!takenOther, "a changeset record is not a snapshot's")
    }

    // MARK: - Through Kafka

    private struct Handler: WorkerHandler {
        var inputTopics: [String] { ["test.input"] }
        func migrate(_ migrator: inout DatabaseMigrator) {
            migrator.registerMigration("tally-v1") { db in
                try db.execute(sql: "CREATE TABLE tally (key TEXT PRIMARY KEY, n INTEGER NOT NULL)")
            }
        }
        func handle(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult { .done([]) }
    }

    private func tally(_ store: PartitionStore) throws -> [String] {
        try store.database.read { try String.fetchAll($0, sql: "SELECT key || '=' || n FROM tally ORDER BY key") }
    }

    private func bump(_ store: PartitionStore, _ keys: [String], offset: Int) throws {
        for (i, key) in keys.enumerated() {
            try store.write { db in
                try db.execute(sql: "INSERT INTO tally (key, n) VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET n = n + 1", arguments: [key])
                try PartitionStore.recordOffset(db, topic: "test.input", partition: 0, next: Int64(offset + i + 1))
                _ = try PartitionStore.append(db, OutboundMessage(topic: "test.output", key: key, value: Array("v".utf8), id: "\(key)/\(offset + i)"))
            }
        }
    }

    @Test("the relay snapshots when due; a restore uses the snapshot and the records after it, also when the records before it are gone, and skips incomplete and corrupt newer snapshots",
          .timeLimit(.minutes(3)))
    func snapshotThroughKafka() throws {
        let logger = Logger(label: "test.snapshot")
        let cluster = try EmbeddedCluster(logger: logger)
        let topic = "card.tally-changelog"
        try cluster.createTopic(TopicSpec(name: "test.output", partitions: 1))
        try cluster.createTopic(TopicSpec(name: topic, partitions: 1))
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("snapshot-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let (sourceDir, targetDir) = (root.appendingPathComponent("a"), root.appendingPathComponent("b"))
        for dir in [sourceDir, targetDir] { try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true) }
        let kafka = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: kafka), logger: logger)

        // Owner: 40 transactions over 8 keys, then a snapshot, then 10 more transactions.
        let policy = SnapshotPolicy(changesetBytes: 1 << 30, maxAge: .seconds(3600))
        let source = try PartitionStore(directory: sourceDir, partition: 0, handler: Handler())
        try source.enableChangelog(topic: topic, snapshots: SnapshotSchedule(policy: policy))
        let relay = try OutboxRelay(store: source, producer: producer)
        let keys = (0..<40).map { "k\($0 % 8)" }
        try bump(source, keys, offset: 0)
        #expect(try relay.drain(timeout: .seconds(30)))
        #expect(relay.snapshotWriter?.completed == 0, "not due below the threshold")
        source.changelog?.snapshots.changesetBytes = 1 << 30
        let deadline = ContinuousClock.now + .seconds(30)
        while relay.snapshotWriter?.completed == 0 && ContinuousClock.now < deadline {
            try relay.pump()
            usleep(2000)
        }
        #expect(relay.snapshotWriter?.completed == 1)
        #expect(!FileManager.default.fileExists(atPath: source.url.path + ".snapshot"), "the copy on disk is removed once the snapshot is sent")
        #expect(source.changelog?.snapshots.changesetBytes == 0, "the count starts again after a complete snapshot")
        try bump(source, ["k1", "k9", "k2", "k1", "k10", "k3", "k3", "k4", "k11", "k0"], offset: 40)
        #expect(try relay.drain(timeout: .seconds(30)))
        let sourceVersion = try source.checkpoint()

        // A newer snapshot cut off between its chunks (kill -9), and one whose bytes were corrupted.
        let newer = try SnapshotImage.take(of: source.url, scratch: URL(fileURLWithPath: source.url.path + ".test-snapshot"))
        #expect(newer.state.version == sourceVersion.version)
        let head = StatePoint(version: sourceVersion.version, epoch: sourceVersion.epoch)
        defer { newer.discard() }
        let chunks = try newer.chunkRecords(topic: topic, partition: 0, chunkBytes: 4096, head: head)
        #expect(chunks.count >= 2, "\(newer.byteCount) bytes")
        for record in chunks.dropLast() { try producer.enqueue(record) { _ in } }
        var corrupt = newer
        corrupt.id = "corrupt"
        var corruptChunks = try corrupt.chunkRecords(topic: topic, partition: 0, chunkBytes: 4096, head: head)
        corruptChunks[0].value![100] ^= 0xff
        for record in corruptChunks + [corrupt.endRecord(topic: topic, partition: 0, chunks: corruptChunks.count, head: head)] {
            try producer.enqueue(record) { _ in }
        }
        try producer.flush(timeout: .seconds(10))

        let reader = ChangelogReader(topic: topic, kafka: kafka, logger: logger)
        let tail = try #require(try reader.tails(partitions: [0])[0])
        #expect(tail.newest == head, "the last record, a snapshot's, names the changelog's head")
        let all = try reader.contents(partition: 0, low: tail.low, high: tail.high) { _ in }
        #expect(all.snapshots.count == 1 && all.rejectedSnapshots == 2, "the cut-off and the corrupt snapshot are skipped")
        let plan = try ChangelogChain.plan(all.entries, snapshots: all.snapshots)
        let base = try #require(plan.base)
        // 10 bumps after the snapshot, and the relay's deletions of delivered outbox rows (each a transaction of its own).
        #expect(plan.chain.count >= 10 && Int64(plan.chain.count) == sourceVersion.version - base.state.version,
                "only the records after the snapshot")
        #expect(plan.head == head)

        func restoreAndCompare(_ plan: ChangelogChain.Plan) throws {
            let conflicts = try ChangelogRestore.restore(plan, directory: targetDir, partition: 0, handler: Handler()) { _, _ in }
            #expect(conflicts == 0)
            let restored = try PartitionStore(directory: targetDir, partition: 0, handler: Handler())
            defer { try? restored.close() }
            #expect(try tally(restored) == tally(source))
            #expect(try restored.checkpoint() == sourceVersion)
            #expect(try restored.storedOffsets(topics: ["test.input"]).first?.offset == 50)
            #expect(try restored.queuedChangelogRecords().isEmpty, "the image's send queue is not the new owner's")
        }
        try restoreAndCompare(plan)

        // Retention deleted everything before the snapshot's first chunk: the restore still works.
        let late = try reader.contents(partition: 0, low: base.firstOffset, high: tail.high) { _ in }
        #expect(late.entries.count == plan.chain.count && late.entries.allSatisfy { $0.version > base.state.version })
        #expect(throws: StateChangelogError.self) { try ChangelogChain.select(late.entries) }
        try restoreAndCompare(try ChangelogChain.plan(late.entries, snapshots: late.snapshots))

        // Without any complete snapshot (the cut-off one only), the full chain is used.
        let chainOnly = try ChangelogChain.plan(all.entries, snapshots: [])
        #expect(chainOnly.base == nil && Int64(chainOnly.chain.count) == sourceVersion.version)
        try restoreAndCompare(chainOnly)
    }

    @Test("a snapshot is sent from its copy on disk, chunk by chunk: at most chunksInFlight unreported at any pump, the copy removed when done, and the chunks reassemble to the image the streaming hash named",
          .timeLimit(.minutes(2)))
    func streamedFromDisk() throws {
        let logger = Logger(label: "test.snapshot")
        let cluster = try EmbeddedCluster(logger: logger)
        let topic = "card.tally-changelog"
        try cluster.createTopic(TopicSpec(name: topic, partitions: 1))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("snapshot-stream-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let kafka = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: kafka), logger: logger)

        let source = try PartitionStore(directory: dir, partition: 0, handler: Handler())
        try source.enableChangelog(topic: topic, snapshots: SnapshotSchedule(policy: SnapshotPolicy(changesetBytes: 1 << 30, maxAge: .seconds(3600))))
        try source.write { db in
            for i in 0..<2000 {
                try db.execute(sql: "INSERT INTO tally (key, n) VALUES (?, ?)", arguments: ["key-\(i)-" + String(repeating: "x", count: 40), i])
            }
            try PartitionStore.recordOffset(db, topic: "test.input", partition: 0, next: 1)
        }
        source.changelog?.snapshots.changesetBytes = 1 << 30
        let chunkBytes = 4096
        let writer = SnapshotWriter(store: source, producer: producer, chunkBytes: chunkBytes, logger: logger)
        var most = 0
        let deadline = ContinuousClock.now + .seconds(60)
        while writer.completed == 0 && ContinuousClock.now < deadline {
            let failures = writer.pump(recordsPending: false, deliveredThrough: .max)
            #expect(failures.isEmpty)
            most = max(most, writer.chunksUnreported)
            usleep(500)
        }
        #expect(writer.completed == 1)
        #expect(most == SnapshotWriter.chunksInFlight, "the producer never held more than the limit, and the limit was reached")
        #expect(!FileManager.default.fileExists(atPath: source.url.path + ".snapshot"), "the copy on disk is removed once sent")

        let reader = ChangelogReader(topic: topic, kafka: kafka, logger: logger)
        let tail = try #require(try reader.tails(partitions: [0])[0])
        let all = try reader.contents(partition: 0, low: tail.low, high: tail.high) { _ in }
        #expect(all.snapshots.count == 1 && all.rejectedSnapshots == 0, "every chunk arrived and the SHA-256 of their bytes is the streamed hash")
        let image = try #require(all.snapshots.first?.image)
        #expect(image.count > 4 * SnapshotWriter.chunksInFlight * chunkBytes, "\(image.count) bytes: enough chunks for the limit to matter")
        let restoredFile = dir.appendingPathComponent("restored.sqlite")
        try Data(image).write(to: restoredFile)
        let restored = try DatabaseQueue(path: restoredFile.path)
        #expect(try restored.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM tally") } == 2000)
    }
}
