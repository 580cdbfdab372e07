import Foundation

/// A record a worker could not process, as sent to `card.dlq` keyed by the original key.
///
/// `{"source_topic", "partition", "offset", "key", "error", "payload_base64", "worker", "at"}`.
/// The payload travels untouched (base64) so ops can replay it; the `error` text is what
/// people read and search, so it is always passed through ``Masking/redact(_:)``.
public struct DeadLetter: Sendable, Hashable, Codable {
    public var sourceTopic: String
    public var partition: Int32
    public var offset: Int64
    /// The original record key as UTF-8 text (invalid bytes replaced), `nil` if it had none.
    public var key: String?
    /// Why the record was dead-lettered; never contains unmasked personal data.
    public var error: String
    public var payloadBase64: String
    /// Which worker gave up on it (`intake`, `identity`, …).
    public var worker: String
    public var at: Timestamp
    /// The dead letter this record was replayed from (`card.dlq/<partition>/<offset>`), when it
    /// failed again after `fleet dlq replay`: a chain an operator can follow, never a loop.
    public var replayOf: String?
    /// Project additions (docs/contract-additions.md, "Sizes"), written when set:
    /// the original payload's full size in bytes (`payload_bytes`) and SHA-256, lower-case hex
    /// (`payload_sha256`), and whether `payload_base64` holds only its first bytes
    /// (`payload_truncated`), so a payload too large to carry whole can still be found and checked.
    public var payloadBytes: Int?
    public var payloadSHA256: String?
    public var payloadTruncated: Bool?
    /// For an output the worker made but could not send (the broker or the producer refused it):
    /// its `card-message-id`. `source_topic` is then the topic it was meant for, `partition` the
    /// worker's partition that made it and `offset` its outbox sequence number.
    public var unsentMessageID: String?

    /// Creates a dead letter, redacting `error` and base64-encoding `payload`.
    /// - Parameters:
    ///   - error: a description we composed; it is still scrubbed of ID numbers, mobiles
    ///     and links as a last line of defence.
    ///   - payload: the record's value bytes, exactly as consumed.
    public init(
        sourceTopic: String, partition: Int32, offset: Int64, key: String?, error: String,
        payload: some Collection<UInt8>, worker: String, at: Timestamp
    ) {
        self.init(
            sourceTopic: sourceTopic, partition: partition, offset: offset, key: key, error: error,
            payloadBase64: (payload as? Data ?? Data(payload)).base64EncodedString(), worker: worker, at: at)
    }

    /// Creates a dead letter from an already base64-encoded payload; `error` is redacted.
    public init(
        sourceTopic: String, partition: Int32, offset: Int64, key: String?, error: String,
        payloadBase64: String, worker: String, at: Timestamp
    ) {
        self.sourceTopic = sourceTopic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.error = Masking.redact(error)
        self.payloadBase64 = payloadBase64
        self.worker = worker
        self.at = at
    }

    /// The original payload bytes, or `nil` if `payload_base64` is not base64.
    public var payload: Data? { Data(base64Encoded: payloadBase64) }

    enum CodingKeys: String, CodingKey {
        case sourceTopic = "source_topic"
        case partition, offset, key, error
        case payloadBase64 = "payload_base64"
        case worker, at
        case replayOf = "replay_of"
        case payloadBytes = "payload_bytes"
        case payloadSHA256 = "payload_sha256"
        case payloadTruncated = "payload_truncated"
        case unsentMessageID = "unsent_message_id"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(sourceTopic, forKey: .sourceTopic)
        try c.encode(partition, forKey: .partition)
        try c.encode(offset, forKey: .offset)
        // Required by the contract even when the record had no key: written as null.
        try c.encode(key, forKey: .key)
        try c.encode(error, forKey: .error)
        try c.encode(payloadBase64, forKey: .payloadBase64)
        try c.encode(worker, forKey: .worker)
        try c.encode(at, forKey: .at)
        try c.encodeIfPresent(replayOf, forKey: .replayOf)
        try c.encodeIfPresent(payloadBytes, forKey: .payloadBytes)
        try c.encodeIfPresent(payloadSHA256, forKey: .payloadSHA256)
        try c.encodeIfPresent(payloadTruncated, forKey: .payloadTruncated)
        try c.encodeIfPresent(unsentMessageID, forKey: .unsentMessageID)
    }
}
