import CardDomain
import Foundation
import Kafka

/// Builds `card.dlq` messages: where the record came from, why it failed (personal data masked),
/// and the raw payload so ops can inspect and replay it.
enum DeadLetters {
    static func message(for message: InboundMessage, cause: String, worker: String, topic: String, at: Date) -> OutboundMessage {
        let m = message.message
        // DeadLetter redacts the cause; the original key travels as the contract asks, so ops can replay.
        let letter = DeadLetter(sourceTopic: m.topic, partition: m.partition, offset: m.offset,
                                key: m.key.map { String(decoding: $0, as: UTF8.self) }, error: cause,
                                payload: m.value ?? [], worker: worker, at: Timestamp(at))
        let json = (try? CardJSON.encode(letter)) ?? Data("{}".utf8)
        return OutboundMessage(topic: topic, key: m.key, value: Array(json), id: "dlq/\(m.topic)/\(m.partition)/\(m.offset)")
    }
}
