import CRdKafka

/// An error from librdkafka or from this wrapper, with the C error code where there is one.
public struct KafkaError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What went wrong, in broad classes callers branch on.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let raw: String
        public static let configuration = Code(raw: "configuration")
        public static let clientCreation = Code(raw: "client_creation")
        public static let produce = Code(raw: "produce")
        public static let consume = Code(raw: "consume")
        public static let rebalance = Code(raw: "rebalance")
        public static let commit = Code(raw: "commit")
        public static let admin = Code(raw: "admin")
        public static let metadata = Code(raw: "metadata")
        /// A consumer found messages missing between the offset it expected and the one it got,
        /// or the broker no longer has the expected offset (retention overtook the consumer).
        public static let offsetGap = Code(raw: "offset_gap")
        public static let timedOut = Code(raw: "timed_out")
        public static let closed = Code(raw: "closed")
        public var description: String { raw }
    }

    public var code: Code
    /// The librdkafka `rd_kafka_resp_err_t` value, or 0 when the error is ours.
    public var rdKafkaCode: Int32
    /// A human-readable reason; never contains message payloads.
    public var reason: String
    /// Whether trying again later may succeed (broker down, timeout, queue full).
    public var isRetriable: Bool
    /// Whether the client instance is unusable after this error (e.g. idempotence fatal error).
    public var isFatal: Bool

    public init(code: Code, rdKafkaCode: Int32 = 0, reason: String, isRetriable: Bool = false, isFatal: Bool = false) {
        self.code = code
        self.rdKafkaCode = rdKafkaCode
        self.reason = reason
        self.isRetriable = isRetriable
        self.isFatal = isFatal
    }

    /// Builds an error from a librdkafka response code, classifying it as retriable where librdkafka would retry.
    static func rd(_ code: Code, _ err: rd_kafka_resp_err_t, _ context: String = "") -> KafkaError {
        let name = String(cString: rd_kafka_err2name(err))
        let text = String(cString: rd_kafka_err2str(err))
        let reason = context.isEmpty ? "\(name): \(text)" : "\(context): \(name): \(text)"
        return KafkaError(code: code, rdKafkaCode: err.rawValue, reason: reason,
                          isRetriable: RDKafkaErrors.isRetriable(err), isFatal: err == RD_KAFKA_RESP_ERR__FATAL)
    }

    /// Builds an error from an `rd_kafka_error_t`, destroying it.
    static func consume(_ code: Code, _ error: OpaquePointer, _ context: String = "") -> KafkaError {
        defer { rd_kafka_error_destroy(error) }
        let err = rd_kafka_error_code(error)
        let reason = "\(context.isEmpty ? "" : context + ": ")\(String(cString: rd_kafka_error_name(error))): \(String(cString: rd_kafka_error_string(error)))"
        return KafkaError(code: code, rdKafkaCode: err.rawValue, reason: reason,
                          isRetriable: rd_kafka_error_is_retriable(error) != 0 || RDKafkaErrors.isRetriable(err),
                          isFatal: rd_kafka_error_is_fatal(error) != 0)
    }

    /// Whether the broker or the producer refuses this one record for good, whatever is retried:
    /// `MSG_SIZE_TOO_LARGE` (over `message.max.bytes`, local or the topic's `max.message.bytes`),
    /// `RECORD_LIST_TOO_LARGE`, `INVALID_RECORD` (KIP-467: the broker's per-record validation) and
    /// `INVALID_TIMESTAMP`. The record is the problem, not the connection: a sender should set it
    /// aside (dead-letter it) and go on. Other errors (timeouts, leaders moving) are transient.
    public var isPermanentForRecord: Bool { RDKafkaErrors.isPermanentForRecord(rd_kafka_resp_err_t(rawValue: rdKafkaCode)) }

    public var description: String { "KafkaError(\(code)\(rdKafkaCode != 0 ? " rd=\(rdKafkaCode)" : ""): \(reason))" }
}

enum RDKafkaErrors {
    static func isPermanentForRecord(_ err: rd_kafka_resp_err_t) -> Bool {
        switch err {
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE,
             RD_KAFKA_RESP_ERR_INVALID_RECORD, RD_KAFKA_RESP_ERR_INVALID_TIMESTAMP:
            return true
        default:
            return false
        }
    }

    /// Errors after which a later attempt can succeed without changing anything.
    static func isRetriable(_ err: rd_kafka_resp_err_t) -> Bool {
        switch err {
        case RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__QUEUE_FULL,
             RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
             RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
             RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
             RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
             RD_KAFKA_RESP_ERR_NOT_COORDINATOR, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
             RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
             RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION, RD_KAFKA_RESP_ERR__WAIT_COORD:
            return true
        default:
            return false
        }
    }
}
