import Foundation
import GRDB
import Kafka
import Logging
import Synchronization

/// Materialises reference tables (compacted topics) in full in every instance: all partitions
/// assigned without a group, applied in transactions with their offsets stored beside them.
///
/// `@unchecked Sendable`: the consumer loop runs on one thread; shared flags are in Mutexes.
final class ReferenceLoader: @unchecked Sendable {
    /// The tables' file, written by this loader's thread.
    private let store: DatabasePool
    /// What handlers read the tables through (`HandlerContext.reference`): one read-only
    /// connection of the same file, opened after the migrations.
    ///
    /// Why not a reader of `store`'s pool: each `unsafeRead` of a `DatabasePool` takes a reader
    /// from the pool (semaphore, lock, two queue hops) and asks SQLite for the schema version
    /// first; for identity's and routing's one or two point lookups per message that was more
    /// than the lookups themselves (~6–8 % of those workers' CPU, perf, issue 14). A
    /// `DatabaseQueue`'s `unsafeRead` is one hop onto its queue. WAL: the loader's writes do
    /// not wait for it, and each lookup (no transaction around it) sees the last commit.
    let database: DatabaseQueue
    private let tables: [any ReferenceTable]
    private let consumer: KafkaConsumer
    private let admin: KafkaAdmin
    private let logger: Logger
    /// Rejected and normalised records: log, metrics, dead letters.
    private let reports: ReferenceRecordReports
    private let stopRequested = Mutex(false)
    private let caughtUp = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    /// High watermarks at start: reaching them means the tables are as fresh as when we started.
    private var targets: [TopicPartitionOffset: Int64] = [:]

    init(tables: [any ReferenceTable], configuration: WorkerConfiguration, logger: Logger) throws {
        self.tables = tables
        self.logger = logger
        try FileManager.default.createDirectory(at: configuration.stateDirectory, withIntermediateDirectories: true)
        var dbConfig = Configuration()
        // Instances of one worker type may share a state volume: wait for a writer, don't fail.
        dbConfig.busyMode = .timeout(10)
        let path = configuration.stateDirectory.appendingPathComponent("reference.sqlite").path
        store = try DatabasePool(path: path, configuration: dbConfig)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("reference-runtime-v1") { db in
            try db.execute(sql: "CREATE TABLE runtime_reference_offsets (topic TEXT NOT NULL, partition INTEGER NOT NULL, next_offset INTEGER NOT NULL, PRIMARY KEY (topic, partition))")
        }
        ReferenceRecordReports.migrate(&migrator)
        tables.forEach { $0.migrate(&migrator) }
        try migrator.migrate(store)
        var lookupConfig = dbConfig
        lookupConfig.readonly = true
        database = try DatabaseQueue(path: path, configuration: lookupConfig)
        reports = try ReferenceRecordReports(configuration: configuration, logger: logger)
        // Compaction leaves offset holes by design, so gap detection is off here.
        var consumerConfiguration = KafkaConsumerConfiguration(client: configuration.kafka, groupID: nil)
        // Reference tables change seldom and are not a hop of an application: no need to ask
        // the broker for news every 10 ms (`CARD_KAFKA_FETCH_WAIT_MAX_MS` still overrides).
        consumerConfiguration.fetchMaxWait = KafkaConsumerConfiguration.tailingFetchMaxWait
        consumer = try KafkaConsumer(configuration: consumerConfiguration, detectGaps: false, logger: logger)
        admin = try KafkaAdmin(configuration: configuration.kafka, logger: logger)
    }

    /// Whether every reference partition has been read up to its high watermark at start.
    var isCaughtUp: Bool { caughtUp.withLock { $0 } }

    func start() throws {
        let counts = try admin.topicPartitionCounts()
        var positions: [TopicPartitionOffset] = []
        var all: [TopicPartitionOffset] = []
        for table in tables {
            guard let count = counts[table.topic] else {
                throw KafkaError(code: .metadata, reason: "reference topic \(table.topic) does not exist")
            }
            all += (0..<count).map { TopicPartitionOffset(topic: table.topic, partition: $0) }
        }
        // Every partition's log end in one batched query (two requests per leader, not per partition).
        let marks = try admin.watermarks(all)
        for table in tables {
            for partition in 0..<(counts[table.topic] ?? 0) {
                let stored = try store.read { db in
                    try Int64.fetchOne(db, sql: "SELECT next_offset FROM runtime_reference_offsets WHERE topic = ? AND partition = ?",
                                       arguments: [table.topic, partition])
                }
                let tp = TopicPartitionOffset(topic: table.topic, partition: partition)
                guard let high = marks[tp]?.high else { throw KafkaError(code: .metadata, reason: "watermarks \(tp): no answer") }
                if high > (stored ?? 0) { targets[tp] = high }
                positions.append(TopicPartitionOffset(topic: table.topic, partition: partition, offset: stored))
            }
        }
        try consumer.assign(positions)
        if targets.isEmpty { caughtUp.withLock { $0 = true } }
        let thread = Thread { [self] in
            while !stopRequested.withLock({ $0 }) {
                do { try pollOnce() } catch {
                    logger.error("reference table update failed", metadata: [LogKey.error: "\(error)"])
                    Thread.sleep(forTimeInterval: 1)
                }
            }
            consumer.close()
            reports.flush()
            finished.signal()
        }
        thread.name = "reference-loader"
        thread.start()
    }

    /// A polled batch not yet written: kept until its transaction commits, so a failed write
    /// (a busy or full disk) is retried instead of losing records the consumer already moved past.
    private var unwritten: [ConsumedMessage] = []
    /// Positions moved past offsets with nothing to deliver (control records, compaction holes at the end).
    private var unwrittenSkips: [TopicPartitionOffset] = []

    private func pollOnce() throws {
        try reports.pump(store)
        if unwritten.isEmpty && unwrittenSkips.isEmpty {
            // A long wait costs nothing: records end it as they arrive, `stop()` wakes it.
            let result = consumer.poll(maxMessages: 1000, timeout: .seconds(1))
            for error in result.errors { logger.warning("reference consumer error", metadata: [LogKey.error: "\(error)"]) }
            unwritten = result.messages
            unwrittenSkips = result.skippedTo
        }
        guard !unwritten.isEmpty || !unwrittenSkips.isEmpty else { return }
        let messages = unwritten
        let byTopic = Dictionary(uniqueKeysWithValues: tables.map { ($0.topic, $0) })
        let written = try store.write { db in
            var next: [TopicPartitionOffset: Int64] = [:]
            for message in messages {
                do {
                    var notes: [String] = []
                    try db.inSavepoint {
                        notes = try byTopic[message.topic]?.applyReporting(key: message.key, value: message.value, in: db) ?? []
                        return .commit
                    }
                    if !notes.isEmpty { reports.normalised(message, notes: notes) }
                } catch let rejected as ReferenceRecordRejected {
                    // Broken against its schema: the table keeps what it had; reported loudly.
                    try reports.rejected(message, cause: rejected.cause, in: db)
                } catch {
                    // A malformed reference record must not stop the table: skip it, loudly.
                    logger.error("reference record skipped", metadata: [
                        LogKey.topic: "\(message.topic)", LogKey.partition: "\(message.partition)",
                        LogKey.offset: "\(message.offset)", LogKey.error: "\(error)"])
                }
                next[TopicPartitionOffset(topic: message.topic, partition: message.partition)] = message.offset + 1
            }
            for skip in unwrittenSkips { if let offset = skip.offset { next[skip.withoutOffset] = max(next[skip.withoutOffset] ?? 0, offset) } }
            for (tp, offset) in next {
                try db.execute(sql: """
                    INSERT INTO runtime_reference_offsets (topic, partition, next_offset) VALUES (?, ?, ?)
                    ON CONFLICT(topic, partition) DO UPDATE SET next_offset = excluded.next_offset
                    """, arguments: [tp.topic, tp.partition, offset])
            }
            return next
        }
        unwritten = []
        unwrittenSkips = []
        // Caught up = the position reached the high watermark seen at start, whether the last
        // offsets below it held records or only transaction markers.
        for (tp, next) in written {
            if let target = targets[tp], next >= target { targets[tp] = nil }
        }
        if targets.isEmpty && !isCaughtUp {
            caughtUp.withLock { $0 = true }
            logger.info("reference tables caught up")
        }
    }

    func stop() {
        let was = stopRequested.withLock { s in defer { s = true }; return s }
        consumer.wakeUp()
        if !was { finished.wait() }
    }
}
