import Crypto
import Dispatch
import Foundation
import GRDB
import Kafka
import Logging
import Synchronization

/// When a partition's state is snapshotted into its changelog (docs/state-changelog.md, "Snapshots").
public struct SnapshotPolicy: Sendable, Equatable {
    /// Changeset bytes written since the last complete snapshot that make the next one due; 0: never.
    public var changesetBytes: Int
    /// Age of the last complete snapshot that makes the next one due even without changes, so that
    /// a time retention (`retention.ms` on the changelog topics) never deletes the newest one.
    public var maxAge: Duration

    public init(changesetBytes: Int, maxAge: Duration) {
        self.changesetBytes = changesetBytes
        self.maxAge = maxAge
    }

    /// No snapshots: the changelog must then be kept whole (`retention.ms=-1`).
    public static let off = SnapshotPolicy(changesetBytes: 0, maxAge: .seconds(0))

    /// 1 MiB of changesets, or one day. The embedded broker keeps the newest ~5 MiB of a partition:
    /// it must hold the newest complete snapshot, the changesets after it (up to the threshold and
    /// what arrives while the next snapshot is taken) and the next snapshot while it is written, so
    /// 1 MiB leaves about 1.9 MiB (compressed) for each of the two snapshots. A restore then applies
    /// at most ~1 MiB of changesets after the snapshot. One day is a seventh of the topics' 7-day
    /// `retention.ms`.
    public static let standard = SnapshotPolicy(changesetBytes: 1 << 20, maxAge: .seconds(86_400))

    /// Environment variable: changeset bytes between snapshots (`0` turns snapshots off).
    public static let bytesVariable = "CARD_STATE_SNAPSHOT_BYTES"
    /// Environment variable: seconds after which a snapshot is taken even without changes.
    public static let maxAgeVariable = "CARD_STATE_SNAPSHOT_MAX_AGE_SECONDS"

    /// The policy the environment sets over ``standard``.
    /// - Throws: ``StateChangelogError`` for a value that is not a whole number ≥ 0 (≥ 1 for the age).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Self {
        var policy = standard
        if let text = environment[bytesVariable], !text.isEmpty {
            guard let bytes = Int(text), bytes >= 0 else { throw StateChangelogError("\(bytesVariable)=\(text) is not a byte count ≥ 0") }
            policy.changesetBytes = bytes
        }
        if let text = environment[maxAgeVariable], !text.isEmpty {
            guard let seconds = Int(text), seconds >= 1 else { throw StateChangelogError("\(maxAgeVariable)=\(text) is not a number of seconds ≥ 1") }
            policy.maxAge = .seconds(seconds)
        }
        return policy
    }
}

/// A partition's progress toward its next snapshot (kept with its ``ChangelogStamp``).
struct SnapshotSchedule: Sendable {
    var policy: SnapshotPolicy
    /// Changeset bytes committed since the state of the last complete snapshot (an estimate after an opening).
    var changesetBytes = 0
    /// When the last complete snapshot was written (or its lack found).
    var lastCompleted = ContinuousClock.now

    /// A schedule whose first snapshot is due at once (nothing known about the last one).
    static func due(_ policy: SnapshotPolicy) -> SnapshotSchedule {
        SnapshotSchedule(policy: policy, changesetBytes: policy.changesetBytes)
    }

    func isDue(now: ContinuousClock.Instant) -> Bool {
        guard policy.changesetBytes > 0 else { return false }
        return changesetBytes >= policy.changesetBytes || now - lastCompleted >= policy.maxAge
    }
}

/// Headers of snapshot records. A snapshot is chunks `1…n` then an end marker, all with the same
/// id; every one also carries ``StateChangelog/versionHeader`` and ``StateChangelog/epochHeader``
/// naming the changelog's head when it was produced (so the fast check on assignment, which reads
/// only the last record, sees how far the changelog is), and never a predecessor header (a reader
/// from before snapshots skips them as records without their state headers).
enum StateSnapshot {
    /// Header: the snapshot's id (text), on its chunks and its end marker.
    static let idHeader = "card-state-snapshot"
    /// Header: the chunk's number, 1-based (decimal text).
    static let chunkHeader = "card-state-snapshot-chunk"
    /// Header, end marker only: the number of chunks (decimal text).
    static let endHeader = "card-state-snapshot-end"
    /// Header, end marker only: `<version>/<epoch>` of the state the image holds.
    static let stateHeader = "card-state-snapshot-state"
    /// Header, end marker only: the SHA-256 of the image (the chunks' values concatenated), lowercase hex.
    static let sha256Header = "card-state-snapshot-sha256"

    static func sha256Hex(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    /// A digest as lowercase hex.
    static func hex(_ digest: SHA256.Digest) -> String {
        digest.map { String(format: "%02x", $0) }.joined()
    }
}

/// A consistent copy of a partition file (`VACUUM INTO`) on disk, the state it holds and its SHA-256.
///
/// The image stays in its file, not in memory: chunks are read from it one at a time as the
/// producer takes them, so a snapshot costs the worker at most ``SnapshotWriter/chunksInFlight``
/// chunks of memory whatever the partition's size. (Held whole, the images of a worker's 24
/// partitions were ~9 MiB of intake's 67 MiB peak heap under `fleet bench` with a few hundred KiB
/// of state each, heaptrack; a partition holds ~25 MiB per 100,000 rows, README "restore time".)
struct SnapshotImage: Sendable {
    var id: String
    /// The version and writer epoch in the image's `runtime_changelog` row: a committed state.
    var state: StatePoint
    /// The copy: the scratch file ``take(of:scratch:)`` wrote; ``discard()`` removes it.
    var file: URL
    /// The copy's size, bytes.
    var byteCount: Int
    var sha256: String

    /// Bytes read (and hashed) per read while the copy is hashed.
    private static let hashBlockBytes = 1 << 20

    /// Copies `file` through a connection of its own (a WAL reader: the worker's writer goes on
    /// meanwhile) into `scratch`, reads the state the copy holds, and hashes it, reading it in blocks.
    /// The copy stays at `scratch` for its chunks; it is removed when taking it fails.
    /// - Parameter scratch: where the copy is written; removed first if left by an earlier run.
    /// - Throws: SQLite errors, file read errors; ``StateChangelogError`` for a file never stamped by the changelog.
    static func take(of file: URL, scratch: URL) throws -> SnapshotImage {
        PartitionStore.removeFiles(at: scratch)
        do {
            var configuration = Configuration()
            configuration.readonly = true
            configuration.busyMode = .timeout(10)
            let source = try DatabaseQueue(path: file.path, configuration: configuration)
            // VACUUM INTO reads one transaction's view: the copy holds one committed state, version row included.
            try source.inDatabase { try $0.execute(sql: "VACUUM INTO ?", arguments: [scratch.path]) }
            try source.close()
            let copy = try DatabaseQueue(path: scratch.path, configuration: configuration)
            let row = try copy.read { try Row.fetchOne($0, sql: "SELECT version, epoch FROM runtime_changelog WHERE id = 0") }
            try copy.close()
            // A read-only open of a rollback-journal file leaves no -wal/-shm; removed anyway, so the copy is one file.
            PartitionStore.removeFiles(at: scratch, keepingFile: true)
            guard let row else { throw StateChangelogError("\(file.lastPathComponent) has no state version: nothing to snapshot") }
            let handle = try FileHandle(forReadingFrom: scratch)
            defer { try? handle.close() }
            var hasher = SHA256()
            var byteCount = 0
            while let block = try handle.read(upToCount: hashBlockBytes), !block.isEmpty {
                hasher.update(data: block)
                byteCount += block.count
            }
            let state = StatePoint(version: row["version"], epoch: row["epoch"])
            return SnapshotImage(id: "\(state.version)-\(state.epoch)-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))",
                                 state: state, file: scratch, byteCount: byteCount, sha256: StateSnapshot.hex(hasher.finalize()))
        } catch {
            PartitionStore.removeFiles(at: scratch)
            throw error
        }
    }

    /// Removes the copy (sent, given up, or its partition gone).
    func discard() { PartitionStore.removeFiles(at: file) }

    /// How many chunk records of at most `chunkBytes` the image makes (at least one: an empty image is one empty chunk).
    func chunkCount(chunkBytes: Int) -> Int {
        let size = max(chunkBytes, 1)
        return max(1, (byteCount + size - 1) / size)
    }

    /// Chunk `index` (0-based) as a record: at most `chunkBytes` of the image read from its file,
    /// stamped with the changelog's `head`.
    /// - Throws: file errors, and ``StateChangelogError`` when the file is shorter than the image was
    ///   (changed or truncated since it was hashed).
    func chunkRecord(_ index: Int, topic: String, partition: Int32, chunkBytes: Int, head: StatePoint) throws -> ProducerRecord {
        let size = max(chunkBytes, 1)
        let start = min(index * size, byteCount)
        let length = min(size, byteCount - start)
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(start))
        let value = length == 0 ? [] : Array(try handle.read(upToCount: length) ?? Data())
        guard value.count == length else {
            throw StateChangelogError("snapshot copy \(file.lastPathComponent) holds \(start + value.count) bytes, not the \(byteCount) hashed")
        }
        return ProducerRecord(topic: topic, partition: partition, key: Array(String(partition).utf8), value: value,
                              headers: Self.headHeaders(head) + [KafkaHeader(name: StateSnapshot.idHeader, string: id),
                                                                 KafkaHeader(name: StateSnapshot.chunkHeader, string: String(index + 1))])
    }

    /// Every chunk record, in order (tests and tools; the writer reads them one at a time).
    func chunkRecords(topic: String, partition: Int32, chunkBytes: Int, head: StatePoint) throws -> [ProducerRecord] {
        try (0..<chunkCount(chunkBytes: chunkBytes)).map { try chunkRecord($0, topic: topic, partition: partition, chunkBytes: chunkBytes, head: head) }
    }

    /// The whole image, read from its file (tools and tests).
    /// - Throws: file read errors.
    func bytes() throws -> [UInt8] { Array(try Data(contentsOf: file)) }

    /// The end marker: chunk count, state and SHA-256; its value is empty.
    func endRecord(topic: String, partition: Int32, chunks: Int, head: StatePoint) -> ProducerRecord {
        ProducerRecord(topic: topic, partition: partition, key: Array(String(partition).utf8), value: [],
                       headers: Self.headHeaders(head) + [
                        KafkaHeader(name: StateSnapshot.idHeader, string: id),
                        KafkaHeader(name: StateSnapshot.endHeader, string: String(chunks)),
                        KafkaHeader(name: StateSnapshot.stateHeader, string: "\(state.version)/\(state.epoch)"),
                        KafkaHeader(name: StateSnapshot.sha256Header, string: sha256)])
    }

    private static func headHeaders(_ head: StatePoint) -> [KafkaHeader] {
        [KafkaHeader(name: StateChangelog.versionHeader, string: String(head.version)),
         KafkaHeader(name: StateChangelog.epochHeader, string: String(head.epoch))]
    }
}

/// A complete snapshot read back from the changelog: every chunk, in order, and its SHA-256 verified.
struct ChangelogSnapshot: Sendable, Equatable {
    var id: String
    var state: StatePoint
    /// Offset of its end marker.
    var offset: Int64
    var image: [UInt8]
    /// Offset of its first chunk: a restore from it needs the changelog from here on.
    var firstOffset: Int64 = 0
}

/// Reassembles snapshots while a changelog partition is read in offset order.
struct SnapshotAssembler {
    private var open: [String: (chunks: [[UInt8]], broken: Bool, first: Int64)] = [:]
    private(set) var complete: [ChangelogSnapshot] = []
    /// Snapshots left out, with why (for the restore's log).
    private(set) var rejected: [(id: String, reason: String)] = []

    /// Takes a record if it is a snapshot's; returns false for any other record.
    mutating func take(_ message: ConsumedMessage) -> Bool {
        guard let id = message.header(StateSnapshot.idHeader)?.stringValue else { return false }
        if let chunk = message.header(StateSnapshot.chunkHeader)?.stringValue.flatMap({ Int($0) }) {
            // Chunks come in order from one producer; a chunk 1 starts the image afresh (a resend).
            if chunk == 1 {
                open[id] = ([message.value ?? []], false, message.offset)
            } else if var assembly = open[id], !assembly.broken, assembly.chunks.count == chunk - 1 {
                assembly.chunks.append(message.value ?? [])
                open[id] = assembly
            } else {
                open[id] = ([], true, message.offset)  // a chunk missing before this one (lost, or deleted by retention)
            }
            return true
        }
        guard let count = message.header(StateSnapshot.endHeader)?.stringValue.flatMap({ Int($0) }) else {
            rejected.append((id, "a snapshot record that is neither a chunk nor an end marker"))
            return true
        }
        let assembly = open.removeValue(forKey: id)
        let numbers = message.header(StateSnapshot.stateHeader)?.stringValue?.split(separator: "/").compactMap { Int64($0) } ?? []
        guard numbers.count == 2, let sha = message.header(StateSnapshot.sha256Header)?.stringValue else {
            rejected.append((id, "end marker without its state or SHA-256"))
            return true
        }
        guard let assembly, !assembly.broken, assembly.chunks.count == count else {
            rejected.append((id, "incomplete: \(assembly.map { $0.broken ? "a chunk missing" : "\($0.chunks.count) chunks" } ?? "no chunks") of \(count)"))
            return true
        }
        let image = assembly.chunks.flatMap { $0 }
        guard StateSnapshot.sha256Hex(image) == sha.lowercased() else {
            rejected.append((id, "SHA-256 mismatch: the image is corrupt"))
            return true
        }
        complete.append(ChangelogSnapshot(id: id, state: StatePoint(version: numbers[0], epoch: numbers[1]), offset: message.offset,
                                          image: image, firstOffset: assembly.first))
        return true
    }

    /// Call after the last record: snapshots still without an end marker are rejected as incomplete.
    mutating func finish() {
        for id in open.keys.sorted() { rejected.append((id, "incomplete: no end marker (its writer stopped mid-snapshot?)")) }
        open.removeAll()
    }
}

/// Takes a partition's snapshots for its relay: the copy and hash on a background queue, the
/// records through the relay's producer on the loop thread. At most one snapshot runs per process
/// at a time (`gate`), so a worker with many partitions due at once copies them one by one.
///
/// Order (docs/state-changelog.md, "Snapshots", kill -9 argument): chunks go out only when every
/// committed changelog record has been handed to the producer (their head stamp is then exact); the
/// end marker goes only after every chunk has its delivery report and the record of the image's
/// version (and every earlier one) has its report. So a complete snapshot in the changelog is always
/// preceded by its own version's record, and a kill -9 at any instant leaves at most a snapshot
/// without its end marker, which a restore skips.
final class SnapshotWriter {
    private enum Phase {
        case idle
        case taking(Job, bytesAtStart: Int, started: ContinuousClock.Instant)
        case sending(SnapshotImage, chunks: Int, next: Int, bytesAtStart: Int, started: ContinuousClock.Instant)
        case ending(SnapshotImage, chunks: Int, endSent: Bool, bytesAtStart: Int, started: ContinuousClock.Instant)
    }

    /// The background copy: its result once done.
    final class Job: Sendable {
        let result = Mutex<Result<SnapshotImage, any Error>?>(nil)
        /// Set when the writer is gone before the copy is done: the copy is then removed at once.
        let abandoned = Mutex(false)
    }

    /// Delivery reports of the snapshot's records (chunks, then the end marker). Reports of an
    /// earlier snapshot given up while its records were in flight carry an older generation and
    /// are not counted.
    private final class Reports: Sendable {
        private struct State {
            var generation = 0
            var delivered = 0
            var failed: [KafkaError] = []
        }
        private let state = Mutex(State())
        func record(_ error: KafkaError?, generation: Int) {
            state.withLock { s in
                guard s.generation == generation else { return }
                if let error { s.failed.append(error) } else { s.delivered += 1 }
            }
        }
        var snapshot: (delivered: Int, failed: [KafkaError]) { state.withLock { ($0.delivered, $0.failed) } }
        var generation: Int { state.withLock { $0.generation } }
        /// Starts counting for a new snapshot.
        func reset() { state.withLock { s in s = State(generation: s.generation + 1) } }
    }

    /// Most chunks handed to the producer and not yet reported, per snapshot: what a snapshot holds
    /// in memory (in librdkafka's queue), ~4 MB at the relay's ~1 MB chunks, however large the image.
    static let chunksInFlight = 4

    private static let gate = Mutex(false)
    private static let queue = DispatchQueue(label: "card.state-snapshot", qos: .utility)

    private let store: PartitionStore
    private let producer: KafkaProducer
    private let logger: Logger
    private let chunkBytes: Int
    private var phase = Phase.idle
    private let reports = Reports()
    /// After a failed snapshot, the next waits this long.
    private var notBefore = ContinuousClock.now
    /// Snapshots completed by this writer (tests and logs).
    private(set) var completed = 0

    init(store: PartitionStore, producer: KafkaProducer, chunkBytes: Int, logger: Logger) {
        self.store = store
        self.producer = producer
        self.chunkBytes = chunkBytes
        self.logger = logger
    }

    /// Whether a snapshot is being taken or sent.
    var isBusy: Bool { if case .idle = phase { return false } else { return true } }

    /// Records of the current snapshot handed to the producer and not yet reported (tests, logs).
    var chunksUnreported: Int {
        let delivered = reports.snapshot.delivered
        switch phase {
        case .idle, .taking: return 0
        case .sending(_, _, let next, _, _): return next - delivered
        case .ending(_, let chunks, let endSent, _, _): return chunks + (endSent ? 1 : 0) - delivered
        }
    }

    /// The copy the current phase sends from, if any.
    private var image: SnapshotImage? {
        switch phase {
        case .idle, .taking: nil
        case .sending(let image, _, _, _, _), .ending(let image, _, _, _, _): image
        }
    }

    /// A writer dropped mid-snapshot (its partition revoked, the worker stopping) removes its copy;
    /// a copy still being taken is removed by the job or here, whichever sees the other's mark.
    deinit {
        if case .taking(let job, _, _) = phase {
            job.abandoned.withLock { $0 = true }
            if case .success(let image)? = job.result.withLock({ $0 }) { image.discard() }
        }
        image?.discard()
    }

    /// Advances the snapshot. Called by the relay after it handed its changelog records over.
    /// - Parameters:
    ///   - recordsPending: whether committed records are still waiting to be handed to the producer.
    ///   - deliveredThrough: the highest version whose record, and every earlier one, has its report.
    /// - Returns: transient failures (the snapshot is given up and tried again later).
    func pump(recordsPending: Bool, deliveredThrough: Int64) -> [KafkaError] {
        guard let stamp = store.changelog else { return [] }
        let now = ContinuousClock.now
        switch phase {
        case .idle:
            guard now >= notBefore, stamp.snapshots.isDue(now: now), stamp.version > 0 else { return [] }
            let acquired = Self.gate.withLock { busy -> Bool in
                if busy { return false }
                busy = true
                return true
            }
            guard acquired else { return [] }
            let job = Job()
            let (file, scratch) = (store.url, URL(fileURLWithPath: store.url.path + ".snapshot"))
            Self.queue.async {
                defer { Self.gate.withLock { $0 = false } }
                let result = Result { try SnapshotImage.take(of: file, scratch: scratch) }
                job.result.withLock { $0 = result }
                if job.abandoned.withLock({ $0 }), case .success(let image) = result { image.discard() }
            }
            phase = .taking(job, bytesAtStart: stamp.snapshots.changesetBytes, started: now)
            return []
        case let .taking(job, bytesAtStart, started):
            guard let result = job.result.withLock({ $0 }) else { return [] }
            switch result {
            case .failure(let error):
                giveUp("could not copy the partition file", error: "\(error)")
                return []
            case .success(let image):
                reports.reset()
                phase = .sending(image, chunks: image.chunkCount(chunkBytes: chunkBytes), next: 0, bytesAtStart: bytesAtStart, started: started)
                return pump(recordsPending: recordsPending, deliveredThrough: deliveredThrough)
            }
        case .sending(let image, let chunks, var next, let bytesAtStart, let started):
            let (delivered, failed) = reports.snapshot
            if let error = failed.first {
                giveUp("a snapshot record was not delivered", error: "\(error)")
                return [error]
            }
            // Chunks follow every committed record, so the head they name is the changelog's.
            guard !recordsPending else { return [] }
            // Read from the copy as the producer takes them, at most `chunksInFlight` unreported.
            while next < chunks && next - delivered < Self.chunksInFlight {
                do {
                    let record = try image.chunkRecord(next, topic: stamp.topic, partition: store.partition, chunkBytes: chunkBytes, head: stamp.point)
                    let generation = reports.generation
                    try producer.enqueue(record) { [reports] error in reports.record(error, generation: generation) }
                } catch let error as KafkaError {
                    phase = .sending(image, chunks: chunks, next: next, bytesAtStart: bytesAtStart, started: started)
                    return [error]  // the rest go on a later pump
                } catch {
                    giveUp("could not hand a chunk to the producer", error: "\(error)")
                    return []
                }
                next += 1
            }
            guard next == chunks else {
                phase = .sending(image, chunks: chunks, next: next, bytesAtStart: bytesAtStart, started: started)
                return []  // the next chunks go when reports free room
            }
            phase = .ending(image, chunks: chunks, endSent: false, bytesAtStart: bytesAtStart, started: started)
            return pump(recordsPending: recordsPending, deliveredThrough: deliveredThrough)
        case let .ending(image, chunks, endSent, bytesAtStart, started):
            let (delivered, failed) = reports.snapshot
            if let error = failed.first {
                giveUp("a snapshot record was not delivered", error: "\(error)")
                return [error]
            }
            if !endSent {
                // The end marker waits for every chunk and for the image's own version's record.
                guard delivered == chunks, deliveredThrough >= image.state.version, !recordsPending else { return [] }
                do {
                    let generation = reports.generation
                    try producer.enqueue(image.endRecord(topic: stamp.topic, partition: store.partition, chunks: chunks, head: stamp.point)) {
                        [reports] error in reports.record(error, generation: generation)
                    }
                } catch let error as KafkaError {
                    return [error]
                } catch {
                    giveUp("could not hand the end marker to the producer", error: "\(error)")
                    return []
                }
                phase = .ending(image, chunks: chunks, endSent: true, bytesAtStart: bytesAtStart, started: started)
                return []
            }
            guard delivered == chunks + 1 else { return [] }
            store.changelog?.snapshots.changesetBytes = max(0, stamp.snapshots.changesetBytes - bytesAtStart)
            store.changelog?.snapshots.lastCompleted = now
            completed += 1
            phase = .idle
            image.discard()
            logger.info("state snapshot written to the changelog", metadata: [
                LogKey.partition: "\(store.partition)", "snapshot.version": "\(image.state.version)", "snapshot.bytes": "\(image.byteCount)",
                "snapshot.chunks": "\(chunks)", "snapshot.seconds": "\(String(format: "%.3f", (now - started).seconds))"])
            return []
        }
    }

    private func giveUp(_ what: String, error: String) {
        image?.discard()
        phase = .idle
        notBefore = ContinuousClock.now + .seconds(30)
        logger.warning("state snapshot given up; the next is tried in 30 s (restores use the previous one meanwhile)", metadata: [
            LogKey.partition: "\(store.partition)", "snapshot.failure": "\(what)", LogKey.error: "\(error)"])
    }
}
