import CRdKafka
import Foundation
import Logging

/// librdkafka's mock cluster, hosted in this process: the real Kafka wire protocol on loopback ports.
///
/// Facts (librdkafka 2.0.2): produce, idempotent produce, consumer groups and commits work;
/// CreateTopics does not (use `createTopic`); nothing is kept on disk; each partition keeps only
/// the newest ~5 MiB / 100,000 message sets, so slow consumers lose data (our consumers detect it).
///
/// `@unchecked Sendable`: the mock cluster runs on its own thread; its C API is safe to call from any.
public final class EmbeddedCluster: @unchecked Sendable {
    /// Whether a cluster id (KIP-78, ``KafkaAdmin/clusterID(timeout:)``) is an embedded broker's:
    /// librdkafka's mock cluster names itself `mockCluster…`.
    public static func isEmbedded(clusterID: String) -> Bool { clusterID.hasPrefix("mockCluster") }

    private let client: RDKafkaClient
    /// `rd_kafka_mock_cluster_t *`, owned here and destroyed before the client.
    private let cluster: OpaquePointer
    /// The `host:port,...` list clients bootstrap from.
    public let bootstrapServers: String

    /// - Parameter brokers: number of mock brokers (partition leaders are spread over them).
    public init(brokers: Int = 1, logger: Logger) throws {
        client = try RDKafkaClient(kind: .producer, properties: ["log_level": "4"], logger: logger)
        guard let cluster = client.withHandle({ rd_kafka_mock_cluster_new($0, Int32(brokers)) }) else {
            throw KafkaError(code: .clientCreation, reason: "rd_kafka_mock_cluster_new failed")
        }
        self.cluster = cluster
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
    }

    deinit { rd_kafka_mock_cluster_destroy(cluster) }

    /// Creates a topic (the mock has no CreateTopics API). Creating an existing topic is a no-op.
    public func createTopic(_ spec: TopicSpec) throws {
        let err = rd_kafka_mock_topic_create(cluster, spec.name, spec.partitions, min(spec.replicationFactor, 1))
        if err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS {
            throw KafkaError.rd(.admin, err, "create topic \(spec.name)")
        }
    }

    // MARK: - Fault injection (for chaos runs and tests)

    /// Takes a broker down (its connections close) until `setBrokerUp`.
    public func setBrokerDown(_ brokerID: Int32) { rd_kafka_mock_broker_set_down(cluster, brokerID) }
    public func setBrokerUp(_ brokerID: Int32) { rd_kafka_mock_broker_set_up(cluster, brokerID) }
    /// Moves a group's coordinator to another broker.
    public func setCoordinator(group: String, brokerID: Int32) { rd_kafka_mock_coordinator_set(cluster, "group", group, brokerID) }
    /// Makes the next `count` Produce requests fail with `MSG_SIZE_TOO_LARGE`, as Apache Kafka answers a
    /// record over the topic's `max.message.bytes`: a permanent per-record error (tests of the relay).
    public func refuseNextProduceRequestsAsTooLarge(count: Int) {
        var errors = [rd_kafka_resp_err_t](repeating: RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, count: count)
        rd_kafka_mock_push_request_errors_array(cluster, 0, count, &errors)
    }

    /// Makes the next `count` OffsetCommit requests (API key 8) fail with `UNKNOWN_MEMBER_ID`, as
    /// the coordinator answers a member it removed (session timed out): what a zombie meets.
    public func refuseNextOffsetCommitsAsUnknownMember(count: Int) {
        var errors = [rd_kafka_resp_err_t](repeating: RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID, count: count)
        rd_kafka_mock_push_request_errors_array(cluster, 8, count, &errors)
    }

    /// Drops the errors still queued for API `apiKey` by the calls above.
    public func clearInjectedErrors(apiKey: Int16) { rd_kafka_mock_clear_request_errors(cluster, apiKey) }

    /// Makes the next `count` requests of API `apiKey` (e.g. 0 = Produce) fail with a retriable error.
    public func failNextRequests(apiKey: Int16, count: Int, retriable: Bool = true) {
        let err = retriable ? RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION : RD_KAFKA_RESP_ERR_INVALID_MSG
        var errors = [rd_kafka_resp_err_t](repeating: err, count: count)
        rd_kafka_mock_push_request_errors_array(cluster, apiKey, count, &errors)
    }
}
