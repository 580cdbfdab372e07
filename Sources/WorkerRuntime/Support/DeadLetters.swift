import CardDomain
import Foundation
import Kafka

/// Builds `card.dlq` messages: where the record came from, why it failed (personal data masked),
/// and the raw payload so ops can inspect and replay it.
enum DeadLetters {
    /// Most payload bytes a dead letter carries. Base64 grows them by a third, and a dead letter must
    /// stay under the producer's 1,000,000-byte message limit: a near-1 MB poison record would otherwise
    /// make a dead letter that can never be sent, and the worker would stop on it again after every restart.
    static let maxPayloadBytes = 512 * 1024
    /// Most key bytes a dead letter carries (as its Kafka key and in its `key` field).
    static let maxKeyBytes = 4 * 1024

    static func message(for message: InboundMessage, cause: String, worker: String, topic: String, at: Date) -> OutboundMessage {
        let m = message.message
        var cause = cause
        let payload = m.value ?? []
        if payload.count > maxPayloadBytes {
            cause += " (payload cut to its first \(maxPayloadBytes) of \(payload.count) bytes in this dead letter)"
        }
        var key = m.key
        if let k = key, k.count > maxKeyBytes {
            key = Array(k.prefix(maxKeyBytes))
            cause += " (key cut to its first \(maxKeyBytes) of \(k.count) bytes)"
        }
        // DeadLetter redacts the cause; the original key travels as the contract asks, so ops can replay.
        var letter = DeadLetter(sourceTopic: m.topic, partition: m.partition, offset: m.offset,
                                key: key.map { String(decoding: $0, as: UTF8.self) }, error: cause,
                                payload: payload.prefix(maxPayloadBytes), worker: worker, at: Timestamp(at))
        // A replayed record that fails again points to the dead letter it came from (informational:
        // only a well-formed id is kept, so an outside header cannot smuggle text into card.dlq).
        if let from = m.header(replayOfHeader)?.stringValue, from.wholeMatch(of: /card\.dlq\/[0-9]{1,9}\/[0-9]{1,19}/) != nil {
            letter.replayOf = from
        }
        let json = (try? CardJSON.encode(letter)) ?? Data("{}".utf8)
        return OutboundMessage(topic: topic, key: key, value: Array(json), id: "dlq/\(m.topic)/\(m.partition)/\(m.offset)")
    }
}

/// Header `fleet dlq replay` puts on a replayed record: the dead letter it came from, `card.dlq/<partition>/<offset>`.
public let replayOfHeader = "card-replay-of"
