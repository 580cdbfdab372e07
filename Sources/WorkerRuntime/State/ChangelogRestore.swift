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
    /// The epoch that wrote `predecessor` (the header; nil on records from before snapshots).
    var predecessorEpoch: Int64? = nil
}

/// The state a partition file or a changelog stands at.
struct StatePoint: Sendable, Hashable {
    var version: Int64
    var epoch: Int64
}

/// The states a partition file is known to have gone through, as far as the checkpoint rule needs:
/// its current state, the states its queued records lead to (written here, delivered or not), and
/// its anchor, the newest of its states known to be in the changelog (set by a restore, moved on
/// when its own records are delivered).
struct LocalHistory: Sendable, Equatable {
    var checkpoint: StatePoint
    var anchor: StatePoint?
    var queued: [StatePoint] = []

    /// Whether the file went through `state`: it is the file's state now, its anchor, or the state
    /// one of its queued records leads to.
    func contains(_ state: StatePoint) -> Bool {
        state == checkpoint || state == anchor || queued.contains(state)
    }
}

/// Which records make the partition's state, and whether a local file is current. Pure rules
/// (docs/state-changelog.md, "Checkpoint, restore" and "Zombies").
enum ChangelogChain {
    /// A local file is used as it is (a checkpoint) when the changelog is empty, or when the
    /// changelog's newest state is one the file itself went through (``LocalHistory/contains(_:)``):
    /// then nobody wrote after it, and what the file holds beyond it is its own records, still in
    /// its queue. Any other newest state means another owner moved on: restore.
    ///
    /// Why not "the file's epoch is higher": two owners that opened from the same changelog state
    /// take the same generation (the one above it), and the random low bits then ranked an earlier
    /// owner's file, killed before its records left, above the later owner's records (the 100,000
    /// chaos run: a routing instance took its stale file as current and decided 446 applications again).
    static func useLocal(_ local: LocalHistory, newest: StatePoint?) -> Bool {
        guard let newest else { return true }
        return local.contains(newest)
    }

    /// ``useLocal(_:newest:)`` for a file whose only known state is its checkpoint (tests, tools).
    static func useLocal(_ local: StatePoint, newest: StatePoint?) -> Bool {
        useLocal(LocalHistory(checkpoint: local), newest: newest)
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

    /// What a restore applies: a snapshot's image (or an empty file) and the records after it.
    struct Plan: Sendable, Equatable {
        var base: ChangelogSnapshot?
        var chain: [ChangelogEntry]
        /// The state the restore reaches (nil: nothing to restore).
        var head: StatePoint? {
            chain.last.map { StatePoint(version: $0.version, epoch: $0.epoch) } ?? base?.state
        }
    }

    /// The newest state of the changelog and how to rebuild it: the chain that ends at the newest
    /// record of the highest epoch (as ``select(_:)``), followed back until it reaches a complete
    /// snapshot of exactly one of its states (same version, same writer epoch) or the first version.
    /// The newest such snapshot wins, so the records before it are never needed (retention may have
    /// deleted them). A record names its predecessor's epoch; one from before snapshots does not,
    /// and is linked by the epoch rule of ``select(_:)``.
    /// - Parameter snapshots: complete, verified snapshots (``SnapshotAssembler``).
    /// - Throws: ``StateChangelogError`` when the chain reaches neither a snapshot nor version 0.
    static func plan(_ entries: [ChangelogEntry], snapshots: [ChangelogSnapshot]) throws -> Plan {
        var byState: [StatePoint: ChangelogSnapshot] = [:]
        for snapshot in snapshots where byState[snapshot.state].map({ $0.offset < snapshot.offset }) ?? true {
            byState[snapshot.state] = snapshot
        }
        guard var current = entries.max(by: { ($0.epoch, $0.version, $0.offset) < ($1.epoch, $1.version, $1.offset) }) else {
            // Only snapshots left (retention deleted the records before the newest one, none came after).
            return Plan(base: snapshots.max { ($0.state.epoch, $0.state.version, $0.offset) < ($1.state.epoch, $1.state.version, $1.offset) },
                        chain: [])
        }
        var byVersion: [Int64: [ChangelogEntry]] = [:]
        for entry in entries { byVersion[entry.version, default: []].append(entry) }
        var chain: [ChangelogEntry] = []
        while true {
            if let snapshot = byState[StatePoint(version: current.version, epoch: current.epoch)] {
                return Plan(base: snapshot, chain: chain.reversed())
            }
            chain.append(current)
            guard current.predecessor > 0 else { return Plan(base: nil, chain: chain.reversed()) }
            let step = current
            if let epoch = step.predecessorEpoch {
                if let snapshot = byState[StatePoint(version: step.predecessor, epoch: epoch)] {
                    return Plan(base: snapshot, chain: chain.reversed())
                }
                if let previous = byVersion[step.predecessor]?.filter({ $0.epoch == epoch && $0.offset < step.offset }).max(by: { $0.offset < $1.offset }) {
                    current = previous
                    continue
                }
            } else if let previous = byVersion[step.predecessor]?
                .filter({ $0.epoch <= step.epoch && $0.offset < step.offset })
                .max(by: { ($0.epoch, $0.offset) < ($1.epoch, $1.offset) }) {
                current = previous
                continue
            } else if let snapshot = snapshots.filter({ $0.state.version == step.predecessor && $0.state.epoch <= step.epoch })
                .max(by: { ($0.state.epoch, $0.offset) < ($1.state.epoch, $1.offset) }) {
                return Plan(base: snapshot, chain: chain.reversed())
            }
            throw StateChangelogError("the changelog has no record of version \(step.predecessor), which version \(step.version) follows, and no complete snapshot of it: it cannot be restored (records deleted by retention before a snapshot was complete?)")
        }
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

    /// What a changelog partition holds: its complete changeset records and its complete, verified snapshots.
    struct Contents: Sendable {
        var entries: [ChangelogEntry]
        var snapshots: [ChangelogSnapshot]
        /// Snapshots left out (incomplete, corrupt), each logged when read.
        var rejectedSnapshots: Int
        /// First offset of a record whose parts run past the end read (``ChangelogRecordAssembler/incompleteFrom``).
        var incompleteFrom: Int64? = nil
    }

    /// Every complete record from `low` to `high`, parts reassembled (snapshot records left out).
    /// - Parameter progress: called with records read so far, about every 5 s and at the end.
    func entries(partition: Int32, low: Int64, high: Int64, progress: (Int64) -> Void) throws -> [ChangelogEntry] {
        try contents(partition: partition, low: low, high: high, progress: progress).entries
    }

    /// Every complete record and every complete snapshot from `low` to `high`. A snapshot without
    /// its end marker, with a chunk missing or with another SHA-256 than its end marker names is
    /// left out, with a warning naming it and why.
    /// - Parameter progress: called with records read so far, about every 5 s and at the end.
    func contents(partition: Int32, low: Int64, high: Int64, progress: (Int64) -> Void) throws -> Contents {
        let consumer = try consumer()
        defer { consumer.close() }
        var entries: [ChangelogEntry] = []
        var snapshots = SnapshotAssembler()
        var records = ChangelogRecordAssembler()
        var lastReport = ContinuousClock.now
        var read: Int64 = 0
        try self.read(consumer, partition: partition, from: low, to: high) { message in
            read += 1
            if ContinuousClock.now - lastReport >= .seconds(5) {
                lastReport = ContinuousClock.now
                progress(read)
            }
            if snapshots.take(message) { return }
            switch records.take(message) {
            case .record(let entry): entries.append(entry)
            case .part: break
            case .unstamped:
                logger.warning("changelog record without its state headers skipped", metadata: [LogKey.offset: "\(message.offset)"])
            }
        }
        progress(read)
        snapshots.finish()
        for (id, reason) in snapshots.rejected {
            logger.warning("changelog snapshot skipped", metadata: [LogKey.topic: "\(topic)", LogKey.partition: "\(partition)",
                                                                  "snapshot.id": "\(id)", "snapshot.reason": "\(reason)"])
        }
        return Contents(entries: entries, snapshots: snapshots.complete, rejectedSnapshots: snapshots.rejected.count,
                        incompleteFrom: records.incompleteFrom)
    }

    static func stamp(_ message: ConsumedMessage) -> StatePoint? {
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

/// Joins a changelog partition's messages, in offset order, into whole records: a changeset larger
/// than one message is sent in parts (``StateChangelog/partHeader``), each with the record's stamp.
struct ChangelogRecordAssembler {
    private var partial: [[Int64]: (parts: [[UInt8]], count: Int, first: Int64)] = [:]

    /// Offset of the first part of the oldest record still incomplete (nil: none): a reader that
    /// goes on later from the end must start there, or that record's later parts come alone.
    var incompleteFrom: Int64? { partial.values.map(\.first).min() }

    enum Taken {
        /// The message completed a record.
        case record(ChangelogEntry)
        /// A part of a record not yet complete (or a malformed part, dropped with its record).
        case part
        /// No state headers: not a changeset record (a snapshot's chunk or end marker, or foreign).
        case unstamped
    }

    mutating func take(_ message: ConsumedMessage) -> Taken {
        guard let stamp = ChangelogReader.stamp(message),
              let predecessor = message.header(StateChangelog.predecessorHeader)?.stringValue.flatMap({ Int64($0) }) else {
            return .unstamped
        }
        let value = message.value ?? []
        let key = [stamp.version, stamp.epoch]
        var (index, count) = (1, 1)
        if let part = message.header(StateChangelog.partHeader)?.stringValue {
            let numbers = part.split(separator: "/").compactMap { Int($0) }
            guard numbers.count == 2 else { return .part }
            (index, count) = (numbers[0], numbers[1])
        }
        // Parts of one record arrive in order from one producer; a first part starts it afresh (a resend).
        if index == 1 { partial[key] = ([], count, message.offset) }
        guard var assembly = partial[key], assembly.count == count, assembly.parts.count == index - 1 else {
            partial[key] = nil
            return .part
        }
        assembly.parts.append(value)
        guard assembly.parts.count == count else {
            partial[key] = assembly
            return .part
        }
        partial[key] = nil
        return .record(ChangelogEntry(version: stamp.version, predecessor: predecessor, epoch: stamp.epoch,
                                      offset: message.offset, changeset: assembly.parts.flatMap { $0 },
                                      predecessorEpoch: message.header(StateChangelog.predecessorEpochHeader)?.stringValue.flatMap { Int64($0) }))
    }
}

/// Rebuilds a partition file from its changelog (docs/state-changelog.md, "Restore").
enum ChangelogRestore {
    /// The records of `plan` after the state `history`'s file stands at, when that state is on the
    /// plan (the base snapshot's or one of the chain's): then the file holds exactly that state of
    /// the chain (a state version and writer epoch name one content: one owner writes a version
    /// once), and applying the rest reaches the plan's head. `nil` when the file is elsewhere (ahead
    /// with records of its own, on a zombie's branch, never stamped): it needs a full restore.
    static func tail(of plan: ChangelogChain.Plan, after history: LocalHistory) -> ArraySlice<ChangelogEntry>? {
        let state = history.checkpoint
        // Version 0 is an empty file only if it was never written with the changelog off.
        guard state.version > 0 else { return nil }
        if plan.base?.state == state { return plan.chain[...] }
        guard let index = plan.chain.firstIndex(where: { StatePoint(version: $0.version, epoch: $0.epoch) == state }) else { return nil }
        return plan.chain[(index + 1)...]
    }

    /// Applies `records` (a ``tail(of:after:)``) to the open file, in slices of 500 per transaction,
    /// each moving the anchor to the state it reaches, so kill -9 at any instant leaves the file at a
    /// state of the chain that it knows is in the changelog. The send queue is emptied: its records
    /// lead to states the changelog holds already. Conflict policy `.replace`, as a restore.
    /// - Returns: conflicts met (none on a consistent chain).
    static func applyTail(_ records: ArraySlice<ChangelogEntry>, to database: DatabasePool, progress: (Int) -> Void = { _ in }) throws -> Int {
        try database.write { try $0.execute(sql: "DELETE FROM runtime_changelog_out_unlogged") }
        return try applyInSlices(records, to: database, progress: progress)
    }

    /// Applies `records` in order, 500 per transaction (a big chain neither holds one huge
    /// transaction nor commits per record), each with ``apply(_:in:)``.
    /// - Parameter progress: records applied so far, about every 5 s.
    /// - Returns: conflicts met.
    private static func applyInSlices(_ records: ArraySlice<ChangelogEntry>, to database: some DatabaseWriter,
                                      progress: (Int) -> Void) throws -> Int {
        var conflicts = 0
        var applied = 0
        var lastReport = ContinuousClock.now
        for start in stride(from: records.startIndex, to: records.endIndex, by: 500) {
            let slice = records[start..<min(start + 500, records.endIndex)]
            conflicts += try database.write { try apply(slice, in: $0) }
            applied += slice.count
            if ContinuousClock.now - lastReport >= .seconds(5) {
                lastReport = ContinuousClock.now
                progress(applied)
            }
        }
        return conflicts
    }

    /// Applies consecutive records of a chain in the caller's transaction (conflict policy
    /// `.replace`: the changelog's row wins) and moves the anchor to the state the last one
    /// reaches: the file's content and its knowledge of being in the changelog change together.
    /// - Returns: conflicts met (none on a consistent chain).
    static func apply(_ records: some Collection<ChangelogEntry>, in db: Database) throws -> Int {
        var conflicts = 0
        var reached: StatePoint?
        for entry in records {
            conflicts += try Changeset(bytes: entry.changeset).apply(to: db, policy: .replace)
            reached = StatePoint(version: entry.version, epoch: entry.epoch)
        }
        if let reached { try PartitionStore.setAnchor(db, reached) }
        return conflicts
    }

    /// Applies `chain` to a fresh `partition-NNN.sqlite.restoring`, then renames it over the
    /// partition file. kill -9 at any instant leaves the old file or the new one whole; a leftover
    /// `.restoring` is deleted by the next restore.
    /// - Parameter progress: applied and total records, about every 5 s and at the end.
    /// - Returns: conflicts met (a conflicting row is replaced by the changelog's).
    static func restore(_ chain: [ChangelogEntry], directory: URL, partition: Int32, handler: any WorkerHandler,
                        progress: (Int, Int) -> Void) throws -> Int {
        try restore(ChangelogChain.Plan(base: nil, chain: chain), directory: directory, partition: partition, handler: handler,
                    progress: progress)
    }

    /// Writes the plan's snapshot image (or a fresh file) as `partition-NNN.sqlite.restoring`,
    /// applies the records after it, then renames it over the partition file, as above.
    /// - Throws: ``StateChangelogError`` when the image does not hold the state its end marker names.
    static func restore(_ plan: ChangelogChain.Plan, directory: URL, partition: Int32, handler: any WorkerHandler,
                        progress: (Int, Int) -> Void) throws -> Int {
        let chain = plan.chain
        let target = PartitionStore.fileURL(directory: directory, partition: partition)
        let restoring = URL(fileURLWithPath: target.path + ".restoring")
        PartitionStore.removeFiles(at: restoring)
        if let base = plan.base { try Data(base.image).write(to: restoring) }
        let queue = try DatabaseQueue(path: restoring.path)
        if let base = plan.base {
            let row = try queue.read { try Row.fetchOne($0, sql: "SELECT version, epoch FROM runtime_changelog WHERE id = 0") }
            guard let row, StatePoint(version: row["version"], epoch: row["epoch"]) == base.state else {
                try? queue.close()
                throw StateChangelogError("snapshot \(base.id) does not hold the state its end marker names (\(base.state.version)/\(base.state.epoch))")
            }
        }
        // A snapshot from an older build gets the migrations added since; a fresh file gets them all.
        try PartitionStore.migrator(handler: handler).migrate(queue)
        // The image's send queue held records its owner had not yet delivered: not this owner's to send.
        try queue.write { try $0.execute(sql: "DELETE FROM runtime_changelog_out_unlogged") }
        // The anchor each slice sets is in a file no one opens before the rename below.
        let conflicts = try applyInSlices(chain[...], to: queue) { progress($0, chain.count) }
        // The restored file stands at the chain's head, which is in the changelog: its anchor (the
        // image's own anchor, its writer's, is replaced with it).
        try queue.write { db in
            if let head = plan.head { try PartitionStore.setAnchor(db, head) } else {
                try db.execute(sql: "DELETE FROM runtime_changelog_anchor_unlogged")
            }
        }
        try queue.close()
        // The old file's WAL must not be replayed onto the new file.
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: target.path + suffix) }
        guard rename(restoring.path, target.path) == 0 else {
            throw StateChangelogError("could not rename \(restoring.path) over \(target.path): errno \(errno)")
        }
        progress(chain.count, chain.count)
        return conflicts
    }
}
