import Foundation
import Kafka
import Logging

/// Ties a worker's state directory to the Kafka cluster its offsets and applied ids came from.
///
/// The partition files hold offsets into one cluster's partitions. Against another cluster (a new
/// embedded broker, a rebuilt Kafka, a volume mounted on the wrong deployment) those offsets point
/// past the end of empty partitions or into other data, so the worker would stop with OFFSET GAP or
/// skip records. The first start therefore writes the cluster id (KIP-78, from the Metadata
/// response) to `<state-dir>/cluster-id`, and a start against another cluster refuses with one line
/// that names both ids and the way to reset (docs/deploying.md, "A state directory from another cluster").
public enum ClusterBinding {
    /// File inside the state directory holding the cluster id, one line of text.
    public static let fileName = "cluster-id"

    /// The state directory belongs to another cluster than the brokers'.
    public struct Mismatch: Error, CustomStringConvertible {
        public let directory: URL
        public let stored: String
        public let current: String
        public var description: String {
            "state directory \(directory.path) belongs to Kafka cluster \(stored), but the brokers are cluster \(current): "
                + "its offsets and applied ids mean nothing there. To start this worker from scratch on \(current), "
                + "move the directory aside (mv \(directory.path) \(directory.path).\(stored)) and start it again"
        }
    }

    /// Checks the directory against `clusterID` and binds an unbound directory to it.
    /// - Parameter clusterID: the brokers' cluster id; `nil` (brokers before Metadata v2) skips the check.
    /// - Throws: `Mismatch` for a directory bound to another cluster; file errors when the id cannot be written.
    public static func check(directory: URL, clusterID: String?, logger: Logger) throws {
        guard let clusterID else {
            logger.notice("the brokers report no cluster id: the state directory cannot be checked against them")
            return
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let file = directory.appendingPathComponent(fileName)
        if let stored = boundClusterID(of: directory) {
            guard stored == clusterID else { throw Mismatch(directory: directory, stored: stored, current: clusterID) }
            return
        }
        let existing = (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.filter { $0.hasSuffix(".sqlite") } ?? []
        try Data((clusterID + "\n").utf8).write(to: file, options: .atomic)
        logger.info(existing.isEmpty ? "state directory bound to the cluster" : "state from before cluster binding adopted for the cluster",
                    metadata: ["kafka.cluster_id": "\(clusterID)", "state.files": "\(existing.count)"])
    }

    /// The cluster id `directory` is bound to, or `nil` when it is not bound (no or an empty `cluster-id` file).
    public static func boundClusterID(of directory: URL) -> String? {
        let text = try? String(contentsOf: directory.appendingPathComponent(fileName), encoding: .utf8)
        return text.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Asks the brokers for their cluster id and checks the directory against it.
    /// - Returns: the brokers' cluster id (`nil` when they report none).
    /// - Throws: `KafkaError` when no broker answers within `timeout`; `Mismatch` as `check`.
    @discardableResult
    public static func check(directory: URL, kafka: KafkaClientConfiguration, timeout: Duration = .seconds(30), logger: Logger) throws -> String? {
        let admin = try KafkaAdmin(configuration: kafka, logger: logger)
        let clusterID = try admin.clusterID(timeout: timeout)
        try check(directory: directory, clusterID: clusterID, logger: logger)
        return clusterID
    }
}
