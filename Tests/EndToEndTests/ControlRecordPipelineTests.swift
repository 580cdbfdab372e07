import CardDomain
import Foundation
import FleetSupport
import Kafka
import Logging
import Testing
import WorkerRuntime
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Transaction markers (KIP-98 control records) on the pipeline's inputs, as a transactional
/// producer on Apache Kafka leaves them: card.submission for intake, registry.persons for
/// identity's reference table (the outside-world case ow-01).
@Suite("End to end: transaction markers on card.submission and registry.persons", .serialized, .timeLimit(.minutes(3)))
struct ControlRecordPipelineTests {
    let logger = Logger(label: "test.e2e.markers")

    @Test("markers ending registry.persons: identity becomes ready; a marker between two submissions: both processed, no OFFSET GAP, intake commits to the log end")
    func markersOnInputs() async throws {
        let cluster = try EmbeddedCluster(logger: logger)
        for spec in try TopicCatalog.load(from: PipelineHarness.repositoryRoot.appendingPathComponent("Topics")) { try cluster.createTopic(spec) }
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers)),
                                         logger: logger)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("e2e-markers-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func markEveryPartition(_ topic: String) throws {
            for partition in 0..<Int32(24) {
                try ControlRecordWriter.append(.commit, bootstrap: cluster.bootstrapServers, topic: topic, partition: partition)
            }
        }

        // Registry records, then a marker on every partition: some end in one, some hold nothing else.
        let family = Family(1)
        for person in [family.mother, family.child] {
            try await producer.send(ProducerRecord(topic: "registry.persons", key: Array(person.idNumber.utf8),
                                                   value: Array(try JSONEncoder().encode(person))))
        }
        try markEveryPartition("registry.persons")

        let opsPort = Self.freePort()
        var workers: [String: ChildProcess] = [:]
        defer { for worker in workers.values { worker.signal(SIGKILL) } }
        for name in ["intake", "identity"] {
            var arguments = ["--brokers", cluster.bootstrapServers, "--state-dir", directory.appendingPathComponent("state/\(name)").path,
                             "--kafka-property", "session.timeout.ms=3000", "--kafka-property", "heartbeat.interval.ms=300"]
            if name == "identity" { arguments += ["--ops-port", "\(opsPort)"] }
            workers[name] = try ChildProcess(name: name, executable: BuildProducts.executable("\(name)-worker"), arguments: arguments,
                                             environment: ["CARD_OPS_HOST": "127.0.0.1"],
                                             logFile: directory.appendingPathComponent("\(name).log"))
        }
        let ready = await Self.waitForReady("http://127.0.0.1:\(opsPort)/readyz", timeout: .seconds(45))
        #expect(ready?.contains("\"reference_tables_caught_up\":true") == true, "identity /readyz: \(ready ?? "no answer")")

        // A submission, a marker on every partition, a second submission for the same child (same partition).
        let reader = try TopicReader(bootstrapServers: cluster.bootstrapServers)
        try reader.start(["card.status"])
        var statuses: [StatusEvent] = []
        func waitForStatus(_ submissionID: String, _ done: ([StatusEvent]) -> Bool) async -> [StatusEvent] {
            let deadline = ContinuousClock.now + .seconds(45)
            repeat {
                statuses += reader.poll(timeout: .milliseconds(50)).messages.compactMap {
                    try? JSONDecoder().decode(StatusEvent.self, from: Data($0.value ?? []))
                }
                if done(statuses.filter { $0.submissionID == submissionID }) { break }
                try? await Task.sleep(for: .milliseconds(50))
            } while ContinuousClock.now < deadline
            return statuses.filter { $0.submissionID == submissionID }
        }
        try await producer.send(ProducerRecord(topic: "card.submission", key: Array(family.child.idNumber.utf8),
                                               value: Array(family.submission(id: "ow01-first").utf8)))
        let first = await waitForStatus("ow01-first") { $0.contains { $0.status == .identityVerified } }
        #expect(first.map(\.status).prefix(2) == [.received, .identityVerified], "identity verified against the registry it loaded")

        try markEveryPartition("card.submission")
        try await producer.send(ProducerRecord(topic: "card.submission", key: Array(family.child.idNumber.utf8),
                                               value: Array(family.submission(id: "ow01-second").utf8)))
        let second = await waitForStatus("ow01-second") { !$0.isEmpty }
        #expect(!second.isEmpty, "the submission after the marker is processed (here rejected: the child's first application is active)")
        #expect(second.first?.reasons.map(\.code) == [.duplicateActiveApplication], "\(second)")

        // Every card.submission partition now ends in a marker: intake's committed offsets reach the log end.
        let probe = try LagProbe(bootstrapServers: cluster.bootstrapServers, logger: logger)
        var lags: [PartitionLag] = []
        for _ in 0..<100 {
            lags = try probe.lag(group: "card-intake", topics: ["card.submission"])
            if lags.count == 24 && lags.allSatisfy({ $0.lag == 0 }) { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(lags.count == 24 && lags.allSatisfy { $0.lag == 0 }, "\(lags.filter { $0.lag > 0 })")

        let intakeLog = readGrowingTextFile(directory.appendingPathComponent("intake.log"))
        #expect(!intakeLog.contains("OFFSET GAP"))
        for worker in workers.values { worker.signal(SIGTERM) }
        for worker in workers.values { #expect(await worker.waitAsync(timeout: .seconds(30)) == 0) }
        workers = [:]
    }

    /// Polls `/readyz` until it answers 200, or `timeout`; the last body seen.
    static func waitForReady(_ url: String, timeout: Duration) async -> String? {
        let deadline = ContinuousClock.now + timeout
        var body: String?
        while ContinuousClock.now < deadline {
            var request = URLRequest(url: URL(string: url)!)
            request.timeoutInterval = 2
            if let (data, response) = try? await URLSession.shared.data(for: request), let http = response as? HTTPURLResponse {
                body = String(decoding: data, as: UTF8.self)
                if http.statusCode == 200 { return body }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return body
    }

    /// A TCP port nobody listens on right now (bound to 0 and released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
