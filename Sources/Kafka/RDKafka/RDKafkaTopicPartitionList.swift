import CRdKafka

/// Converts between Swift partition lists and `rd_kafka_topic_partition_list_t`.
enum RDKafkaTopicPartitionList {
    /// Builds a C list, hands it to `body`, and destroys it after.
    static func with<T>(_ partitions: [TopicPartitionOffset], _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws -> T) rethrows -> T {
        let list = rd_kafka_topic_partition_list_new(Int32(max(partitions.count, 1)))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for tp in partitions {
            let element = rd_kafka_topic_partition_list_add(list, tp.topic, tp.partition)!
            element.pointee.offset = tp.offset ?? Int64(RD_KAFKA_OFFSET_INVALID)
        }
        return try body(list)
    }

    static func read(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartitionOffset] {
        (0..<Int(list.pointee.cnt)).map { i in
            let element = list.pointee.elems[i]
            let offset = element.offset
            return TopicPartitionOffset(topic: String(cString: element.topic), partition: element.partition,
                                        offset: offset >= 0 ? offset : nil)
        }
    }

    /// The first element carrying an error (a commit's per-partition answer), if any.
    static func firstError(_ list: UnsafePointer<rd_kafka_topic_partition_list_t>) -> (partition: TopicPartitionOffset, error: rd_kafka_resp_err_t)? {
        for i in 0..<Int(list.pointee.cnt) {
            let element = list.pointee.elems[i]
            if element.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                return (TopicPartitionOffset(topic: String(cString: element.topic), partition: element.partition), element.err)
            }
        }
        return nil
    }
}
