import CardDomain
import Foundation
import FleetSupport
import Kafka
import Logging
import WorkerRuntime

/// The embedded broker with the topics of Topics/, and the four worker executables as real
/// child processes; collects what they publish on card.status, card.orders and card.dlq.
final class PipelineHarness: @unchecked Sendable {
    let logger = Logger(label: "test.e2e")
    let cluster: EmbeddedCluster
    let producer: KafkaProducer
    let directory: URL
    let clockFile: URL
    private(set) var workers: [String: ChildProcess] = [:]
    private let reader: TopicReader
    private(set) var collected: [String: [ConsumedMessage]] = [:]

    static let workerNames = ["intake", "identity", "routing", "production"]
    private let registryGraceSeconds: Double
    /// Added to every worker's environment (nil: the test process's own).
    private let workerEnvironment: [String: String]?

    init(registryGraceSeconds: Double, workerEnvironment: [String: String]? = nil) throws {
        self.registryGraceSeconds = registryGraceSeconds
        self.workerEnvironment = workerEnvironment
        cluster = try EmbeddedCluster(logger: logger)
        let topics = try TopicCatalog.load(from: Self.repositoryRoot.appendingPathComponent("Topics"))
        for spec in topics { try cluster.createTopic(spec) }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        clockFile = directory.appendingPathComponent("clock-offset")
        try Data("0".utf8).write(to: clockFile)
        producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers)),
                                     logger: logger)
        reader = try TopicReader(bootstrapServers: cluster.bootstrapServers)
        try reader.start(["card.status", "card.orders", "card.dlq"])
        for name in Self.workerNames {
            workers[name] = try startInstance(name, stateDirectory: directory.appendingPathComponent("state/\(name)"),
                                              log: directory.appendingPathComponent("\(name).log"))
        }
    }

    /// Starts one more instance of worker type `name` (same group) on `stateDirectory`, logging to `log`.
    func startInstance(_ name: String, stateDirectory: URL, log: URL) throws -> ChildProcess {
        var arguments = ["--brokers", cluster.bootstrapServers, "--state-dir", stateDirectory.path,
                         "--kafka-property", "session.timeout.ms=3000", "--kafka-property", "heartbeat.interval.ms=300",
                         "--clock-file", clockFile.path]
        if name == "identity" { arguments += ["--registry-grace-seconds", "\(registryGraceSeconds)"] }
        return try ChildProcess(name: name, executable: BuildProducts.executable("\(name)-worker"), arguments: arguments,
                                environment: workerEnvironment, logFile: log)
    }

    /// Every record collected from `topic` so far (card.status, card.orders, card.dlq).
    func collectedRecords(_ topic: String) -> [ConsumedMessage] { collected[topic] ?? [] }

    static var repositoryRoot: URL {
        var url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Topics").path) && url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url
    }

    // MARK: - Publishing

    func publish(_ topic: String, key: String, value: [UInt8]) async throws {
        try await producer.send(ProducerRecord(topic: topic, key: Array(key.utf8), value: value))
    }

    func publish(_ topic: String, key: String, json: some Encodable) async throws {
        try await publish(topic, key: key, value: Array(try JSONEncoder().encode(json)))
    }

    func submit(_ submission: String, applicantID: String) async throws {
        try await publish("card.submission", key: applicantID, value: Array(submission.utf8))
    }

    /// Sets the production worker's clock this far ahead of real time.
    func advanceClock(bySeconds seconds: Double) throws {
        try Data("\(seconds)".utf8).write(to: clockFile)
    }

    // MARK: - Reading

    private func drain() {
        for message in reader.poll(timeout: .milliseconds(10)).messages {
            collected[message.topic, default: []].append(message)
        }
    }

    func statuses(_ applicationID: String) -> [StatusEvent] {
        (collected["card.status"] ?? []).filter { $0.key == Array(applicationID.utf8) }.compactMap {
            try? JSONDecoder().decode(StatusEvent.self, from: Data($0.value ?? []))
        }
    }

    func orders(_ applicationID: String) -> [(key: String, order: CardOrder)] {
        (collected["card.orders"] ?? []).compactMap { message in
            guard let order = try? JSONDecoder().decode(CardOrder.self, from: Data(message.value ?? [])),
                  order.applicationID == applicationID else { return nil }
            return (String(decoding: message.key ?? [], as: UTF8.self), order)
        }
    }

    /// Every record `topic` holds now, read from its start with a reader of its own (for topics the
    /// harness does not collect).
    func read(_ topic: String, timeout: Duration = .seconds(3)) throws -> [ConsumedMessage] {
        let reader = try TopicReader(bootstrapServers: cluster.bootstrapServers)
        try reader.start([topic])
        return reader.read(timeout: timeout) { _ in false }.messages
    }

    func deadLetters() -> [DeadLetter] {
        (collected["card.dlq"] ?? []).compactMap { try? JSONDecoder().decode(DeadLetter.self, from: Data($0.value ?? [])) }
    }

    /// Waits until `condition` holds over what was collected, or `timeout`.
    @discardableResult
    func waitUntil(timeout: Duration = .seconds(60), _ condition: () -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            drain()
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        drain()
        return condition()
    }

    /// Waits until the application has a status `status`.
    @discardableResult
    func waitForStatus(_ applicationID: String, _ status: ApplicationStatus, timeout: Duration = .seconds(60)) async -> [StatusEvent] {
        await waitUntil(timeout: timeout) { statuses(applicationID).contains { $0.status == status } }
        return statuses(applicationID)
    }

    /// Lets in-flight work settle, so "nothing more was emitted" can be checked.
    func settle(_ duration: Duration = .seconds(2)) async {
        await waitUntil(timeout: duration) { false }
    }

    func logs() -> [String: String] {
        Dictionary(uniqueKeysWithValues: Self.workerNames.map { name in
            (name, readGrowingTextFile(directory.appendingPathComponent("\(name).log")))
        })
    }

    /// SIGTERM to every worker; returns their exit statuses.
    func stop() async -> [String: Int32?] {
        for worker in workers.values { worker.signal(SIGTERM) }
        var statuses: [String: Int32?] = [:]
        for (name, worker) in workers { statuses[name] = await worker.waitAsync(timeout: .seconds(30)) }
        return statuses
    }

    deinit {
        for worker in workers.values { worker.signal(SIGKILL) }
        try? FileManager.default.removeItem(at: directory)
    }
}
