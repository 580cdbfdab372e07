import CardDomain
import Foundation
import JSONCodec
import Kafka

/// Builds `card.dlq` messages: where the record came from, why it failed (personal data masked),
/// and the raw payload so ops can inspect and replay it — bounded, so a dead letter always fits
/// in one record (docs/contract-additions.md, "Sizes").
enum DeadLetters {
    /// Most payload bytes a dead letter carries: 256 KiB, about 350 KB once base64'd. A 1 MiB
    /// input base64'd whole would be 1.4 MB, over the producer's 1,000,000-byte `message.max.bytes`,
    /// and the worker would stop on its dead letter after every restart. A longer payload is cut
    /// to its first bytes; `payload_bytes` and `payload_sha256` name the whole, so ops can find the
    /// original by topic/partition/offset and check it.
    static let maxPayloadBytes = 256 * 1024
    /// Most key bytes a dead letter carries (as its Kafka key and in its `key` field).
    static let maxKeyBytes = 4 * 1024
    /// Most UTF-8 bytes of the `error` text (a cause may quote a handler's error).
    static let maxCauseBytes = 4 * 1024

    /// A dead letter for an input record the worker could not process.
    static func message(for message: InboundMessage, cause: String, worker: String, topic: String, at: Date) -> OutboundMessage {
        let m = message.message
        // A replayed record that fails again points to the dead letter it came from (informational:
        // only a well-formed id is kept, so an outside header cannot smuggle text into card.dlq).
        let replayOf = m.header(replayOfHeader)?.stringValue.flatMap { $0.wholeMatch(of: /card\.dlq\/[0-9]{1,9}\/[0-9]{1,19}/) == nil ? nil : $0 }
        return letter(sourceTopic: m.topic, partition: m.partition, offset: m.offset, key: m.key, payload: m.value ?? [],
                      cause: cause, worker: worker, topic: topic, at: at, id: "dlq/\(m.topic)/\(m.partition)/\(m.offset)", replayOf: replayOf)
    }

    /// A dead letter for an output the worker made but could never send (over `message.max.bytes`,
    /// refused by the broker for good): `source_topic` is the topic it was meant for, `partition` the
    /// worker's partition, `offset` its outbox seq, `unsent_message_id` its `card-message-id`.
    /// - Parameter withPayload: `false` when the record was itself a dead letter the broker refused:
    ///   its payload is left out, so setting it aside cannot fail the same way again.
    static func unsentOutput(_ record: ProducerRecord, seq: Int64, partition: Int32, cause: String, worker: String,
                             topic: String, at: Date, withPayload: Bool) -> OutboundMessage {
        let id = record.headers.last { $0.name == messageIDHeader }?.stringValue ?? "seq-\(seq)"
        var out = letter(sourceTopic: record.topic, partition: partition, offset: seq, key: record.key,
                         payload: withPayload ? record.value ?? [] : [], cause: cause, worker: worker, topic: topic, at: at,
                         id: "dlq/unsent/\(id)", unsentMessageID: id, fullPayload: record.value ?? [])
        out.headers = []
        return out
    }

    private static func letter(sourceTopic: String, partition: Int32, offset: Int64, key: [UInt8]?, payload: [UInt8],
                               cause: String, worker: String, topic: String, at: Date, id: String,
                               unsentMessageID: String? = nil, fullPayload: [UInt8]? = nil, replayOf: String? = nil) -> OutboundMessage {
        let whole = fullPayload ?? payload
        let carried = payload.prefix(maxPayloadBytes)
        var cause = cause
        if carried.count < whole.count {
            cause += " (payload_base64 holds the first \(carried.count) of \(whole.count) bytes)"
        }
        var key = key
        if let k = key, k.count > maxKeyBytes {
            key = Array(k.prefix(maxKeyBytes))
            cause += " (key cut to its first \(maxKeyBytes) of \(k.count) bytes)"
        }
        // DeadLetter redacts the cause; the original key travels as the contract asks, so ops can replay.
        var letter = DeadLetter(sourceTopic: sourceTopic, partition: partition, offset: offset,
                                key: key.map { String(decoding: $0, as: UTF8.self) },
                                error: ReasonBounds.cut(cause, to: maxCauseBytes),
                                payload: carried, worker: worker, at: Timestamp(at))
        letter.payloadBytes = whole.count
        letter.payloadSHA256 = SHA256.hex(whole)
        letter.payloadTruncated = carried.count < whole.count
        letter.unsentMessageID = unsentMessageID
        letter.replayOf = replayOf
        let json = (try? CardJSON.encode(letter)) ?? Data("{}".utf8)
        return OutboundMessage(topic: topic, key: key, value: Array(json), id: id)
    }
}

/// Header `fleet dlq replay` puts on a replayed record: the dead letter it came from, `card.dlq/<partition>/<offset>`.
public let replayOfHeader = "card-replay-of"
