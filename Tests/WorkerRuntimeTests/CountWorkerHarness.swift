import Foundation
import FleetSupport
import GRDB
import Kafka
import Logging

/// An embedded cluster plus the `count-worker` executable as a real child process.
final class CountWorkerHarness: @unchecked Sendable {
    let logger = Logger(label: "test.runtime")
    let cluster: EmbeddedCluster
    let directory: URL
    let producer: KafkaProducer
    private(set) var worker: ChildProcess?

    init(partitions: Int32 = 4) throws {
        cluster = try EmbeddedCluster(logger: logger)
        // The state changelog topic of the worker named "count": its partitions' state is logged (issue 13).
        for topic in ["test.input", "test.output", "card.count-changelog"] { try cluster.createTopic(TopicSpec(name: topic, partitions: partitions)) }
        try cluster.createTopic(TopicSpec(name: "card.dlq", partitions: 2))
        // Instances say which partitions they hold here, for standby placement (docs/state-changelog.md, "Standbys").
        try cluster.createTopic(TopicSpec(name: "card.worker-membership", partitions: 1))
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("count-worker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers)),
                                     logger: logger)
    }

    var stateDirectory: URL { directory.appendingPathComponent("state") }
    var logFile: URL { directory.appendingPathComponent("worker.log") }

    /// Starts the worker with a short session timeout so a killed instance's partitions move fast.
    func startWorker(batchSize: Int = 500, extraArguments: [String] = [], environment: [String: String]? = nil) throws {
        worker = try launch(batchSize: batchSize, extraArguments: extraArguments, logFile: logFile, environment: environment)
    }

    /// Another instance of the same worker (same group), logging to `log`: on the same state volume,
    /// or on its own (`stateDirectory`), as another host would be.
    func startAnotherWorker(batchSize: Int = 500, extraArguments: [String] = [], log: URL, stateDirectory: URL? = nil) throws -> ChildProcess {
        try launch(batchSize: batchSize, extraArguments: extraArguments, logFile: log, stateDirectory: stateDirectory)
    }

    private func launch(batchSize: Int, extraArguments: [String], logFile: URL, stateDirectory: URL? = nil,
                        environment: [String: String]? = nil) throws -> ChildProcess {
        try ChildProcess(
            name: "count-worker", executable: BuildProducts.executable("count-worker"),
            arguments: ["--brokers", cluster.bootstrapServers, "--state-dir", (stateDirectory ?? self.stateDirectory).path, "--batch-size", "\(batchSize)",
                        "--kafka-property", "session.timeout.ms=3000", "--kafka-property", "heartbeat.interval.ms=300"] + extraArguments,
            environment: environment, logFile: logFile)
    }

    func produce(_ records: [(key: String, value: String)]) async throws {
        let errors = await producer.send(records.map {
            ProducerRecord(topic: "test.input", key: Array($0.key.utf8), value: Array($0.value.utf8))
        })
        if let error = errors.compactMap({ $0 }).first { throw error }
    }

    /// The worker's state, summed over its partition files (in `directory`, default the first instance's).
    func counts(in directory: URL? = nil) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for file in try partitionFiles(in: directory ?? stateDirectory) {
            let db = try DatabaseQueue(path: file.path, configuration: { var c = Configuration(); c.readonly = true; return c }())
            let rows = try db.read { db -> [Row] in
                guard try db.tableExists("counts") else { return [] }
                return try Row.fetchAll(db, sql: "SELECT key, count FROM counts")
            }
            for row in rows { counts[row["key"], default: 0] += row["count"] as Int }
        }
        return counts
    }

    func scalar(_ sql: String) throws -> [Int] {
        try partitionFiles().map { file in
            let db = try DatabaseQueue(path: file.path, configuration: { var c = Configuration(); c.readonly = true; return c }())
            return try db.read { try Int.fetchOne($0, sql: sql) ?? 0 }
        }
    }

    func storedOffsets() throws -> [Int32: Int64] {
        var offsets: [Int32: Int64] = [:]
        for file in try partitionFiles() {
            let db = try DatabaseQueue(path: file.path, configuration: { var c = Configuration(); c.readonly = true; return c }())
            for row in try db.read({ try Row.fetchAll($0, sql: "SELECT partition, next_offset FROM runtime_offsets WHERE topic = 'test.input'") }) {
                offsets[row["partition"]] = row["next_offset"]
            }
        }
        return offsets
    }

    private func partitionFiles(in directory: URL? = nil) throws -> [URL] {
        let directory = directory ?? stateDirectory
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasPrefix("partition-") && $0.pathExtension == "sqlite" }
    }

    /// Polls the worker's state (in `directory`, default the first instance's) until `done` or `timeout`.
    func waitForState(in directory: URL? = nil, timeout: Duration, _ done: ([String: Int]) -> Bool) async throws -> [String: Int] {
        let deadline = ContinuousClock.now + timeout
        var last: [String: Int] = [:]
        while ContinuousClock.now < deadline {
            last = (try? counts(in: directory)) ?? last
            if done(last) { return last }
            try await Task.sleep(for: .milliseconds(50))
        }
        return last
    }

    /// Reads a topic from the start until `done`.
    func read(_ topic: String, timeout: Duration, until done: @escaping ([ConsumedMessage]) -> Bool) throws -> [ConsumedMessage] {
        let reader = try TopicReader(bootstrapServers: cluster.bootstrapServers)
        try reader.start([topic])
        return reader.read(timeout: timeout, until: done).messages
    }

    func workerLog() -> String { readGrowingTextFile(logFile) }

    deinit {
        worker?.signal(SIGKILL)
        try? FileManager.default.removeItem(at: directory)
    }
}

/// Checks `condition` every 100 ms until it holds or `timeout` passes; its last answer.
func waitFor(timeout: Duration, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return condition()
}

/// Records spread over 40 keys, and how many each key should count in the end.
struct KeyedInput {
    private let keys = (0..<40).map { "key-\($0)" }
    /// Per key, the records produced so far: the exact counts the worker must reach.
    private(set) var expected: [String: Int] = [:]

    /// `n` records, key `key-(i % 40)`, value `<tag>-<i>`.
    mutating func chunk(_ n: Int, _ tag: String) -> [(key: String, value: String)] {
        (0..<n).map { i in
            let key = keys[i % keys.count]
            expected[key, default: 0] += 1
            return (key, "\(tag)-\(i)")
        }
    }

    /// Every output id the count worker gives these records: `count/<key>/<n>`.
    var expectedIDs: Set<String> { Set(expected.flatMap { key, n in (1...n).map { "count/\(key)/\($0)" } }) }

    static func total(_ counts: [String: Int]) -> Int { counts.values.reduce(0, +) }
}
