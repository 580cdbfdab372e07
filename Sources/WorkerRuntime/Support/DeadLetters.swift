import CardDomain
import Foundation
import Kafka

/// Builds `card.dlq` messages: where the record came from, why it failed (personal data masked),
/// and the raw payload so ops can inspect and replay it.
enum DeadLetters {
    private struct Value: Encodable {
        var source_topic: String
        var partition: Int32
        var offset: Int64
        var key: String?
        var error: String
        var payload_base64: String
        var worker: String
        var at: String
    }

    static func message(for message: InboundMessage, cause: String, worker: String, topic: String, at: Date) -> OutboundMessage {
        let m = message.message
        let value = Value(
            source_topic: m.topic, partition: m.partition, offset: m.offset,
            // The original key, as the contract asks: ops need it to replay the record.
            key: m.key.map { String(decoding: $0, as: UTF8.self) },
            error: Masking.redact(cause),
            payload_base64: Data(m.value ?? []).base64EncodedString(),
            worker: worker, at: Timestamps.rfc3339(at))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return OutboundMessage(topic: topic, key: m.key, value: Array(json),
                               id: "dlq/\(m.topic)/\(m.partition)/\(m.offset)")
    }
}

/// RFC 3339 timestamps in UTC with milliseconds.
public enum Timestamps {
    public static func rfc3339(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: true).timeSeparator(.colon).timeZone(separator: .omitted))
    }
}
