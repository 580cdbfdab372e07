import Foundation
import GRDB
import Kafka
import Logging
import SQLiteChangeset

/// One changelog transaction as read back from Kafka, its parts reassembled.
struct ChangelogEntry: Sendable, Equatable {
    var version: Int64
    var predecessor: Int64
    var epoch: Int64
    /// Offset of its last part: among copies of one version and epoch the later one is kept.
    var offset: Int64
    var changeset: [UInt8]
}

/// The state a partition file or a changelog stands at.
struct StatePoint: Sendable, Equatable {
    var version: Int64
    var epoch: Int64
}

/// Which records make the partition's state, and whether a local file is current. Pure rules
/// (docs/state-changelog.md, "Checkpoint, restore" and "Zombies").
enum ChangelogChain {
    /// A local file is used as it is (a checkpoint) when the changelog is empty, when the file was
    /// written by a later owner than the changelog's newest record (its own records are still in
    /// its queue), or by the same owner and is at least as far.
    static func useLocal(_ local: StatePoint, newest: StatePoint?) -> Bool {
        guard let newest else { return true }
        if local.epoch > newest.epoch { return true }
        return local.epoch == newest.epoch && local.version >= newest.version
    }

    /// The records to apply, oldest first: the chain that ends at the newest record of the highest
    /// epoch, followed back through predecessors, each step taking the highest epoch not above the
    /// step after it that was written before it. Copies of a record (sent twice) count once; a
    /// zombie's records (a lower epoch that went on writing) are left out.
    /// - Throws: ``StateChangelogError`` when a predecessor is missing (the changelog lost records).
    static func select(_ entries: [ChangelogEntry]) throws -> [ChangelogEntry] {
        guard var current = entries.max(by: { ($0.epoch, $0.version, $0.offset) < ($1.epoch, $1.version, $1.offset) }) else { return [] }
        var byVersion: [Int64: [ChangelogEntry]] = [:]
        for entry in entries { byVersion[entry.version, default: []].append(entry) }
        var chain = [current]
        while current.predecessor > 0 {
            let step = current
            guard let previous = byVersion[step.predecessor]?
                .filter({ $0.epoch <= step.epoch && $0.offset < step.offset })
                .max(by: { ($0.epoch, $0.offset) < ($1.epoch, $1.offset) }) else {
                throw StateChangelogError("the changelog has no record of version \(step.predecessor), which version \(step.version) follows: it cannot be restored (records deleted by retention?)")
            }
            chain.append(previous)
            current = previous
        }
        return chain.reversed()
    }
}

/// Reads one worker's changelog partitions, assigned outside the group. Each call has a consumer
/// of its own: a consumer re-assigned to an earlier offset could still hand over records fetched
/// for the previous assignment.
struct ChangelogReader {
    var topic: String
    var kafka: KafkaClientConfiguration
    var logger: Logger
    /// Longest wait for the next record before the read is given up.
    var stallTimeout: Duration = .seconds(30)

    /// A changelog partition's watermarks and its last record's stamp (`nil` when empty).
    struct Tail: Sendable, Equatable {
        var low: Int64
        var high: Int64
        var newest: StatePoint?
    }

    private func consumer() throws -> KafkaConsumer {
        try KafkaConsumer(configuration: KafkaConsumerConfiguration(client: kafka, groupID: nil), detectGaps: false, logger: logger)
    }

    /// The tails of `partitions`, read together through one consumer (one record each).
    func tails(partitions: [Int32]) throws -> [Int32: Tail] {
        guard !partitions.isEmpty else { return [:] }
        let consumer = try consumer()
        defer { consumer.close() }
        var tails: [Int32: Tail] = [:]
        for partition in partitions {
            let (low, high) = try consumer.watermarks(topic: topic, partition: partition, timeout: .seconds(10))
            tails[partition] = Tail(low: low, high: high, newest: nil)
        }
        let wanted = tails.filter { $0.value.high > $0.value.low }
        guard !wanted.isEmpty else { return tails }
        try consumer.assign(wanted.map { TopicPartitionOffset(topic: topic, partition: $0.key, offset: $0.value.high - 1) })
        var missing = Set(wanted.keys)
        var lastProgress = ContinuousClock.now
        while !missing.isEmpty {
            let result = consumer.poll(maxMessages: 1000, timeout: .milliseconds(100))
            if let error = result.errors.first { throw error.error }
            for message in result.messages where missing.contains(message.partition) && message.offset == wanted[message.partition]!.high - 1 {
                tails[message.partition]?.newest = Self.stamp(message)
                missing.remove(message.partition)
                lastProgress = ContinuousClock.now
            }
            if ContinuousClock.now - lastProgress > stallTimeout {
                throw StateChangelogError("reading the last records of \(topic) stalled; partitions \(missing.sorted()) did not answer")
            }
        }
        return tails
    }

    /// Every complete record from `low` to `high`, parts reassembled.
    /// - Parameter progress: called with records read so far, about every 5 s and at the end.
    func entries(partition: Int32, low: Int64, high: Int64, progress: (Int64) -> Void) throws -> [ChangelogEntry] {
        let consumer = try consumer()
        defer { consumer.close() }
        var entries: [ChangelogEntry] = []
        var partial: [[Int64]: (parts: [[UInt8]], count: Int)] = [:]
        var lastReport = ContinuousClock.now
        var read: Int64 = 0
        try self.read(consumer, partition: partition, from: low, to: high) { message in
            read += 1
            if ContinuousClock.now - lastReport >= .seconds(5) {
                lastReport = ContinuousClock.now
                progress(read)
            }
            guard let stamp = Self.stamp(message),
                  let predecessor = message.header(StateChangelog.predecessorHeader)?.stringValue.flatMap({ Int64($0) }) else {
                logger.warning("changelog record without its state headers skipped", metadata: [LogKey.offset: "\(message.offset)"])
                return
            }
            let value = message.value ?? []
            let key = [stamp.version, stamp.epoch]
            var (index, count) = (1, 1)
            if let part = message.header(StateChangelog.partHeader)?.stringValue {
                let numbers = part.split(separator: "/").compactMap { Int($0) }
                guard numbers.count == 2 else { return }
                (index, count) = (numbers[0], numbers[1])
            }
            // Parts of one record arrive in order from one producer; a first part starts it afresh (a resend).
            if index == 1 { partial[key] = ([], count) }
            guard var assembly = partial[key], assembly.count == count, assembly.parts.count == index - 1 else {
                partial[key] = nil
                return
            }
            assembly.parts.append(value)
            if assembly.parts.count == count {
                partial[key] = nil
                entries.append(ChangelogEntry(version: stamp.version, predecessor: predecessor, epoch: stamp.epoch,
                                              offset: message.offset, changeset: assembly.parts.flatMap { $0 }))
            } else {
                partial[key] = assembly
            }
        }
        progress(read)
        return entries
    }

    private static func stamp(_ message: ConsumedMessage) -> StatePoint? {
        guard let version = message.header(StateChangelog.versionHeader)?.stringValue.flatMap({ Int64($0) }),
              let epoch = message.header(StateChangelog.epochHeader)?.stringValue.flatMap({ Int64($0) }) else { return nil }
        return StatePoint(version: version, epoch: epoch)
    }

    private func read(_ consumer: KafkaConsumer, partition: Int32, from: Int64, to end: Int64, _ body: (ConsumedMessage) -> Void) throws {
        try consumer.assign([TopicPartitionOffset(topic: topic, partition: partition, offset: from)])
        var next = from
        var lastProgress = ContinuousClock.now
        while next < end {
            let result = consumer.poll(maxMessages: 1000, timeout: .milliseconds(100))
            if let error = result.errors.first { throw error.error }
            // A delete-policy topic without transactions has no holes: records come at next, next + 1, …
            for message in result.messages where message.partition == partition && message.offset == next {
                body(message)
                next = message.offset + 1
                lastProgress = ContinuousClock.now
            }
            if let skipped = result.skippedTo.first(where: { $0.partition == partition })?.offset, skipped > next { next = skipped }
            if ContinuousClock.now - lastProgress > stallTimeout {
                throw StateChangelogError("reading \(topic)[\(partition)] stalled at offset \(next) of \(end)")
            }
        }
    }
}

/// Rebuilds a partition file from its changelog (docs/state-changelog.md, "Restore").
enum ChangelogRestore {
    /// Applies `chain` to a fresh `partition-NNN.sqlite.restoring`, then renames it over the
    /// partition file. kill -9 at any instant leaves the old file or the new one whole; a leftover
    /// `.restoring` is deleted by the next restore.
    /// - Parameter progress: applied and total records, about every 5 s and at the end.
    /// - Returns: conflicts met (a conflicting row is replaced by the changelog's).
    static func restore(_ chain: [ChangelogEntry], directory: URL, partition: Int32, handler: any WorkerHandler,
                        progress: (Int, Int) -> Void) throws -> Int {
        let target = PartitionStore.fileURL(directory: directory, partition: partition)
        let restoring = URL(fileURLWithPath: target.path + ".restoring")
        for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: restoring.path + suffix) }
        let queue = try DatabaseQueue(path: restoring.path)
        try PartitionStore.migrator(handler: handler).migrate(queue)
        var conflicts = 0
        var applied = 0
        var lastReport = ContinuousClock.now
        // One transaction per slice: a big chain neither holds one huge transaction nor commits per record.
        for start in stride(from: 0, to: chain.count, by: 500) {
            let slice = chain[start..<min(start + 500, chain.count)]
            try queue.write { db in
                for entry in slice { conflicts += try Changeset(bytes: entry.changeset).apply(to: db, policy: .replace) }
            }
            applied += slice.count
            if ContinuousClock.now - lastReport >= .seconds(5) {
                lastReport = ContinuousClock.now
                progress(applied, chain.count)
            }
        }
        try queue.close()
        // The old file's WAL must not be replayed onto the new file.
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: target.path + suffix) }
        guard rename(restoring.path, target.path) == 0 else {
            throw StateChangelogError("could not rename \(restoring.path) over \(target.path): errno \(errno)")
        }
        progress(applied, chain.count)
        return conflicts
    }
}
