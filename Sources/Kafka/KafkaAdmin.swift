import CRdKafka
import Foundation
import Logging

/// Topic creation, watermarks and group offsets, against a real cluster or the embedded one.
///
/// All calls block: run them off the cooperative pool (tools and tests call them from their own threads).
/// Admins made with the same configuration share one librdkafka handle while they live
/// (``RDKafkaClient/sharedAdmin(properties:logger:)``).
public final class KafkaAdmin: Sendable {
    let client: RDKafkaClient
    private let embedded: EmbeddedCluster?

    /// - Parameter embedded: when set, topics are created through the mock cluster, which has no CreateTopics API.
    public init(configuration: KafkaClientConfiguration, embedded: EmbeddedCluster? = nil, logger: Logger) throws {
        var properties = configuration.properties
        properties.merge(configuration.extraProperties) { _, extra in extra }
        self.client = try RDKafkaClient.sharedAdmin(properties: properties, logger: logger)
        self.embedded = embedded
    }

    /// Creates topics; a topic that already exists is left as it is.
    /// - Throws: `KafkaError` (code `.admin`) naming the first topic that could not be created.
    public func createTopics(_ specs: [TopicSpec], timeout: Duration = .seconds(30)) throws {
        if let embedded {
            try specs.forEach(embedded.createTopic)
            return
        }
        try client.withHandle { rk in
            let queue = rd_kafka_queue_new(rk)!
            defer { rd_kafka_queue_destroy(queue) }
            var errstr = [CChar](repeating: 0, count: 512)
            var newTopics: [OpaquePointer?] = []
            defer { newTopics.forEach { rd_kafka_NewTopic_destroy($0) } }
            for spec in specs {
                guard let nt = rd_kafka_NewTopic_new(spec.name, spec.partitions, spec.replicationFactor, &errstr, errstr.count) else {
                    throw KafkaError(code: .admin, reason: "topic \(spec.name): \(errstr.errorText)")
                }
                for (key, value) in spec.config.sorted(by: { $0.key < $1.key }) {
                    _ = rd_kafka_NewTopic_set_config(nt, key, value)
                }
                newTopics.append(nt)
            }
            let options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS)
            defer { rd_kafka_AdminOptions_destroy(options) }
            rd_kafka_AdminOptions_set_operation_timeout(options, Int32(clamping: timeout.milliseconds), &errstr, errstr.count)
            newTopics.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_CreateTopics(rk, buffer.baseAddress, buffer.count, options, queue)
            }
            let event = try Self.awaitResult(queue, timeout: timeout, operation: "CreateTopics")
            defer { rd_kafka_event_destroy(event) }
            var count = 0
            guard let topics = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count) else { return }
            try Self.checkTopicResults(topics, count: count, operation: "CreateTopics", tolerating: RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        }
    }

    /// The configs of each named topic as the cluster reports them (DescribeConfigs): every entry
    /// with a value, defaults included; sensitive entries, whose values the broker withholds, are left out.
    /// - Throws: `KafkaError` with code `.unsupported` when the cluster has no DescribeConfigs API
    ///   (the embedded broker), `.admin` naming the topic when a topic cannot be described.
    public func describeTopicConfigs(_ names: [String], timeout: Duration = .seconds(30)) throws -> [String: [String: String]] {
        guard !names.isEmpty else { return [:] }
        if embedded != nil { throw KafkaError.unsupported("DescribeConfigs") }
        return try client.withHandle { rk in
            let queue = rd_kafka_queue_new(rk)!
            defer { rd_kafka_queue_destroy(queue) }
            var errstr = [CChar](repeating: 0, count: 512)
            var resources: [OpaquePointer?] = names.map { rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, $0) }
            defer { resources.forEach { rd_kafka_ConfigResource_destroy($0) } }
            let options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS)
            defer { rd_kafka_AdminOptions_destroy(options) }
            rd_kafka_AdminOptions_set_request_timeout(options, Int32(clamping: timeout.milliseconds), &errstr, errstr.count)
            resources.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_DescribeConfigs(rk, buffer.baseAddress, buffer.count, options, queue)
            }
            let event = try Self.awaitResult(queue, timeout: timeout, operation: "DescribeConfigs")
            defer { rd_kafka_event_destroy(event) }
            var count = 0
            guard let result = rd_kafka_event_DescribeConfigs_result(event),
                  let described = rd_kafka_DescribeConfigs_result_resources(result, &count) else { return [:] }
            var configs: [String: [String: String]] = [:]
            for i in 0..<count {
                let resource = described[i]
                let name = String(cString: rd_kafka_ConfigResource_name(resource))
                let err = rd_kafka_ConfigResource_error(resource)
                if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                    if Self.meansUnsupported(err) { throw KafkaError.unsupported("DescribeConfigs") }
                    throw KafkaError.rd(.admin, err, "describe configs of topic \(name)")
                }
                var entryCount = 0
                var entries: [String: String] = [:]
                if let list = rd_kafka_ConfigResource_configs(resource, &entryCount) {
                    for j in 0..<entryCount {
                        let entry = list[j]
                        guard rd_kafka_ConfigEntry_is_sensitive(entry) == 0, let value = rd_kafka_ConfigEntry_value(entry) else { continue }
                        entries[String(cString: rd_kafka_ConfigEntry_name(entry))] = String(cString: value)
                    }
                }
                configs[name] = entries
            }
            return configs
        }
    }

    /// Raises the partition count of each topic to the given total (Kafka can only add partitions).
    /// Keys then hash to different partitions: only for topics whose consumers can live with that.
    /// - Throws: `KafkaError` with code `.unsupported` on the embedded broker, `.admin` naming the first topic that failed.
    public func createPartitions(_ totals: [String: Int32], timeout: Duration = .seconds(30)) throws {
        guard !totals.isEmpty else { return }
        if embedded != nil { throw KafkaError.unsupported("CreatePartitions") }
        try client.withHandle { rk in
            let queue = rd_kafka_queue_new(rk)!
            defer { rd_kafka_queue_destroy(queue) }
            var errstr = [CChar](repeating: 0, count: 512)
            var requests: [OpaquePointer?] = []
            defer { requests.forEach { rd_kafka_NewPartitions_destroy($0) } }
            for (topic, total) in totals.sorted(by: { $0.key < $1.key }) {
                guard let request = rd_kafka_NewPartitions_new(topic, Int(total), &errstr, errstr.count) else {
                    throw KafkaError(code: .admin, reason: "topic \(topic): \(errstr.errorText)")
                }
                requests.append(request)
            }
            let options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS)
            defer { rd_kafka_AdminOptions_destroy(options) }
            rd_kafka_AdminOptions_set_operation_timeout(options, Int32(clamping: timeout.milliseconds), &errstr, errstr.count)
            requests.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_CreatePartitions(rk, buffer.baseAddress, buffer.count, options, queue)
            }
            let event = try Self.awaitResult(queue, timeout: timeout, operation: "CreatePartitions")
            defer { rd_kafka_event_destroy(event) }
            var count = 0
            guard let result = rd_kafka_event_CreatePartitions_result(event),
                  let topics = rd_kafka_CreatePartitions_result_topics(result, &count) else { return }
            try Self.checkTopicResults(topics, count: count, operation: "CreatePartitions")
        }
    }

    /// Throws the first per-topic error of a CreateTopics/CreatePartitions result, except `tolerated`
    /// (as `.unsupported` where the broker lacks the API).
    private static func checkTopicResults(_ topics: UnsafeMutablePointer<OpaquePointer?>, count: Int, operation: String,
                                          tolerating tolerated: rd_kafka_resp_err_t = RD_KAFKA_RESP_ERR_NO_ERROR) throws {
        for i in 0..<count {
            let err = rd_kafka_topic_result_error(topics[i])
            guard err != RD_KAFKA_RESP_ERR_NO_ERROR && err != tolerated else { continue }
            if meansUnsupported(err) { throw KafkaError.unsupported(operation) }
            throw KafkaError.rd(.admin, err, "\(operation) for topic \(String(cString: rd_kafka_topic_result_name(topics[i])))")
        }
    }

    /// Waits for an admin result event; its request-level error thrown (as `.unsupported` where the broker lacks the API).
    private static func awaitResult(_ queue: OpaquePointer, timeout: Duration, operation: String) throws -> OpaquePointer {
        guard let event = rd_kafka_queue_poll(queue, Int32(clamping: timeout.milliseconds + 5000)) else {
            throw KafkaError(code: .timedOut, reason: "\(operation): no answer")
        }
        let err = rd_kafka_event_error(event)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            let detail = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
            rd_kafka_event_destroy(event)
            if meansUnsupported(err) { throw KafkaError.unsupported(operation, detail: detail) }
            // The embedded broker names no controller in its metadata, so requests that go to the
            // controller wait for one until they time out.
            if err == RD_KAFKA_RESP_ERR__TIMED_OUT && detail.contains("controller") {
                throw KafkaError.unsupported(operation, detail: "the cluster names no controller (\(detail))")
            }
            var error = KafkaError.rd(.admin, err, operation)
            if !detail.isEmpty { error.reason += " (\(detail))" }
            throw error
        }
        return event
    }

    /// Errors with which a broker says it does not implement an API (the embedded broker's answer).
    private static func meansUnsupported(_ err: rd_kafka_resp_err_t) -> Bool {
        err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE || err == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION
            || err == RD_KAFKA_RESP_ERR_INVALID_REQUEST
    }

    /// Partition count of every topic in the cluster (internal topics excluded).
    public func topicPartitionCounts(timeout: Duration = .seconds(10)) throws -> [String: Int32] {
        try client.withHandle { rk in
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let err = rd_kafka_metadata(rk, 1, nil, &metadata, Int32(clamping: timeout.milliseconds))
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError.rd(.metadata, err, "metadata") }
            defer { rd_kafka_metadata_destroy(metadata) }
            var counts: [String: Int32] = [:]
            for i in 0..<Int(metadata.pointee.topic_cnt) {
                let topic = metadata.pointee.topics[i]
                let name = String(cString: topic.topic)
                if !name.hasPrefix("__") && topic.err == RD_KAFKA_RESP_ERR_NO_ERROR { counts[name] = topic.partition_cnt }
            }
            return counts
        }
    }

    /// The cluster id the brokers report in their Metadata response (KIP-78): e.g.
    /// `"MkU3OEVBNTcwNTJENDM2Qk"` on Apache Kafka, `"mockCluster…"` on the embedded broker.
    /// - Returns: `nil` when the brokers report none (Metadata before v2).
    /// - Throws: `KafkaError` (code `.metadata`) when no broker answers within `timeout`.
    public func clusterID(timeout: Duration = .seconds(10)) throws -> String? {
        try client.withHandle { rk in
            // rd_kafka_clusterid gives NULL both for "no id" and for "no answer in time"; a metadata
            // request first tells the two apart, and then the id is cached in the handle.
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let err = rd_kafka_metadata(rk, 0, nil, &metadata, Int32(clamping: timeout.milliseconds))
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError.rd(.metadata, err, "metadata") }
            rd_kafka_metadata_destroy(metadata)
            guard let id = rd_kafka_clusterid(rk, Int32(clamping: timeout.milliseconds)) else { return nil }
            defer { rd_kafka_mem_free(rk, id) }
            return String(cString: id)
        }
    }

    /// Low and high watermarks of a partition.
    public func watermarks(topic: String, partition: Int32, timeout: Duration = .seconds(10)) throws -> (low: Int64, high: Int64) {
        try client.withHandle { try RDKafkaWatermarks.query($0, topic: topic, partition: partition, timeout: timeout) }
    }

    /// Low and high watermarks (log start and log end offsets) of many partitions at once: two
    /// ListOffsets requests per partition leader (`rd_kafka_offsets_for_times` with the protocol's
    /// special timestamps −2, earliest, and −1, latest), where ``watermarks(topic:partition:timeout:)``
    /// costs two requests per partition. The ops page and `fleet up`'s dashboard ask every second.
    /// - Parameter partitions: topic and partition; offsets are ignored.
    /// - Returns: one entry per distinct partition, keyed without offset.
    /// - Throws: `KafkaError` (code `.metadata`) when the request fails or a partition reports an
    ///   error (an unknown topic or partition, no leader).
    public func watermarks(_ partitions: [TopicPartitionOffset], timeout: Duration = .seconds(10)) throws
        -> [TopicPartitionOffset: (low: Int64, high: Int64)] {
        let keys = Array(Set(partitions.map(\.withoutOffset)))
        guard !keys.isEmpty else { return [:] }
        let low = try offsets(at: Int64(RD_KAFKA_OFFSET_BEGINNING), keys, timeout: timeout)
        let high = try offsets(at: Int64(RD_KAFKA_OFFSET_END), keys, timeout: timeout)
        var result: [TopicPartitionOffset: (low: Int64, high: Int64)] = [:]
        for key in keys {
            guard let l = low[key], let h = high[key] else {
                throw KafkaError(code: .metadata, reason: "watermarks \(key): no answer")
            }
            result[key] = (l, h)
        }
        return result
    }

    private func offsets(at timestamp: Int64, _ keys: [TopicPartitionOffset], timeout: Duration) throws -> [TopicPartitionOffset: Int64] {
        let answers = try client.withHandle { try RDKafkaWatermarks.offsets($0, at: timestamp, keys, timeout: timeout) }
        var offsets: [TopicPartitionOffset: Int64] = [:]
        for (key, answer) in answers {
            if answer.error != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.rd(.metadata, answer.error, "watermarks \(key)") }
            offsets[key] = answer.offset
        }
        return offsets
    }

    /// A group's committed offsets for the given partitions (`nil` offset: nothing committed), asked
    /// with the admin API's ListConsumerGroupOffsets (OffsetFetch to the group's coordinator, KIP-88):
    /// the group is read, never joined. One request per call, on this admin's handle: lag tools ask
    /// every few seconds per group, and the consumer per group they kept for `rd_kafka_committed`
    /// was one more librdkafka handle each, awake on its timers (eight in `fleet up`).
    /// - Throws: `KafkaError` (`.admin`) when the request or a partition's answer fails; `.timedOut`
    ///   when no answer came within `timeout` (+ 5 s).
    public func committedOffsets(group: String, partitions: [TopicPartitionOffset], timeout: Duration = .seconds(10)) throws -> [TopicPartitionOffset] {
        guard !partitions.isEmpty else { return [] }
        return try client.withHandle { rk in
            let queue = rd_kafka_queue_new(rk)!
            defer { rd_kafka_queue_destroy(queue) }
            var errstr = [CChar](repeating: 0, count: 512)
            let request = RDKafkaTopicPartitionList.with(partitions.map(\.withoutOffset)) { list in
                rd_kafka_ListConsumerGroupOffsets_new(group, list)
            }
            var requests: [OpaquePointer?] = [request]
            defer { rd_kafka_ListConsumerGroupOffsets_destroy(request) }
            let options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS)
            defer { rd_kafka_AdminOptions_destroy(options) }
            rd_kafka_AdminOptions_set_request_timeout(options, Int32(clamping: timeout.milliseconds), &errstr, errstr.count)
            requests.withUnsafeMutableBufferPointer { buffer in
                rd_kafka_ListConsumerGroupOffsets(rk, buffer.baseAddress, 1, options, queue)
            }
            let event = try Self.awaitResult(queue, timeout: timeout, operation: "ListConsumerGroupOffsets")
            defer { rd_kafka_event_destroy(event) }
            var count = 0
            guard let result = rd_kafka_event_ListConsumerGroupOffsets_result(event),
                  let groups = rd_kafka_ListConsumerGroupOffsets_result_groups(result, &count), count == 1, let answer = groups[0] else {
                throw KafkaError(code: .admin, reason: "ListConsumerGroupOffsets for group \(group): no answer for the group")
            }
            if let error = rd_kafka_group_result_error(answer) {
                throw KafkaError(code: .admin, reason: "ListConsumerGroupOffsets for group \(group): \(String(cString: rd_kafka_error_string(error)))")
            }
            guard let list = rd_kafka_group_result_partitions(answer) else { return [] }
            if let failed = RDKafkaTopicPartitionList.firstError(list) {
                throw KafkaError.rd(.admin, failed.error, "ListConsumerGroupOffsets for group \(group), \(failed.partition)")
            }
            return RDKafkaTopicPartitionList.read(list)
        }
    }
}

extension KafkaError.Code {
    /// The cluster does not implement the API asked for (e.g. the embedded broker has no CreateTopics or DescribeConfigs).
    public static let unsupported = KafkaError.Code(raw: "unsupported")
}

extension KafkaError {
    static func unsupported(_ operation: String, detail: String = "") -> KafkaError {
        KafkaError(code: .unsupported,
                   reason: "\(operation) is not supported by this cluster (the embedded broker has no such API)\(detail.isEmpty ? "" : ": \(detail)")")
    }
}
