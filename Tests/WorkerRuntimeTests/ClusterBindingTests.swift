import Foundation
import FleetSupport
import Kafka
import Logging
import Testing

@testable import WorkerRuntime

/// A state directory is bound to the cluster its offsets came from, and refuses another one.
@Suite("Cluster binding of a state directory")
struct ClusterBindingTests {
    let logger = Logger(label: "test.cluster-binding")

    @Test("an unbound directory is bound; the same cluster passes; another cluster is refused naming both ids and the reset")
    func bindsAndRefuses() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("binding-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try ClusterBinding.check(directory: directory, clusterID: "cluster-A", logger: logger)
        let stored = try String(contentsOf: directory.appendingPathComponent(ClusterBinding.fileName), encoding: .utf8)
        #expect(stored == "cluster-A\n")
        try ClusterBinding.check(directory: directory, clusterID: "cluster-A", logger: logger)
        let error = #expect(throws: ClusterBinding.Mismatch.self) {
            try ClusterBinding.check(directory: directory, clusterID: "cluster-B", logger: logger)
        }
        #expect(error?.stored == "cluster-A" && error?.current == "cluster-B")
        #expect(error?.description.contains("mv \(directory.path) \(directory.path).cluster-A") == true)
        // Brokers that report no id cannot be checked: the binding stays as it was.
        try ClusterBinding.check(directory: directory, clusterID: nil, logger: logger)
        #expect(try String(contentsOf: directory.appendingPathComponent(ClusterBinding.fileName), encoding: .utf8) == "cluster-A\n")
    }

    @Test("the input's fetch wait follows the cluster: short on the embedded broker, librdkafka's 500 ms on Apache Kafka")
    func fetchWaitByCluster() throws {
        let cluster = try EmbeddedCluster(logger: logger)
        let admin = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers), logger: logger)
        let embeddedID = try #require(try admin.clusterID())
        #expect(WorkerConfiguration.inputFetchMaxWait(clusterID: embeddedID) == .milliseconds(10))
        // An Apache Kafka cluster id (KIP-78: 22 characters of base64), and brokers that report none.
        #expect(WorkerConfiguration.inputFetchMaxWait(clusterID: "MkU3OEVBNTcwNTJENDM2Qk") == .milliseconds(500))
        #expect(WorkerConfiguration.inputFetchMaxWait(clusterID: nil) == .milliseconds(500))
    }

    @Test("a worker whose state came from another cluster exits with one clear line instead of running on it")
    func workerRefusesStateOfAnotherCluster() async throws {
        let first = try CountWorkerHarness(partitions: 2)
        try first.startWorker()
        try await first.produce((0..<20).map { (key: "k\($0 % 3)", value: "v\($0)") })
        _ = try await first.waitForState(timeout: .seconds(30)) { $0.values.reduce(0, +) == 20 }
        first.worker?.signal(SIGTERM)
        #expect(first.worker?.wait(timeout: .seconds(30)) == 0)

        // A second, empty cluster (as a second `fleet up` starts) with the first one's state directory.
        let second = try CountWorkerHarness(partitions: 2)
        let firstID = try KafkaAdmin(configuration: .init(bootstrapServers: first.cluster.bootstrapServers), logger: logger).clusterID()
        let secondID = try KafkaAdmin(configuration: .init(bootstrapServers: second.cluster.bootstrapServers), logger: logger).clusterID()
        #expect(firstID != nil && firstID != secondID)
        let worker = try ChildProcess(
            name: "count-worker", executable: BuildProducts.executable("count-worker"),
            arguments: ["--brokers", second.cluster.bootstrapServers, "--state-dir", first.stateDirectory.path],
            logFile: second.logFile)
        let status = await worker.waitAsync(timeout: .seconds(60))
        #expect(status != nil && status != 0, "the worker ran on another cluster's state")
        let log = second.workerLog()
        #expect(log.contains("belongs to Kafka cluster \(firstID ?? "?")"), "\(log.suffix(2000))")
        #expect(!log.contains("OFFSET GAP"))
    }
}
