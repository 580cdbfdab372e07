import Kafka

/// The runtime's guard that every output can be sent before it enters the outbox.
///
/// An output the producer cannot send would sit at the head of the outbox for good: the relay
/// would fail on it after every restart and nothing behind it would move (case ow-04: a 3 MB
/// `rejected` status, a 1 MB envelope, intake crash-looping). So an input whose outputs do not
/// all fit is refused whole — its state changes rolled back, the input dead-lettered (bounded)
/// with the cause — and a time-driven output that does not fit is set aside as a dead letter.
struct OutputLimit {
    /// The producer's effective `message.max.bytes` (``KafkaProducer/messageMaxBytes``).
    let maxBytes: Int

    /// Bytes `message` takes against `message.max.bytes`, with the `card-message-id` header the
    /// outbox adds.
    static func wireSize(_ message: OutboundMessage) -> Int {
        KafkaProducer.wireSize(of: message.outboxRecord)
    }

    /// Why `message` cannot be sent, or `nil` when it fits. Names sizes and the topic, never content.
    func refusal(_ message: OutboundMessage) -> String? {
        let size = Self.wireSize(message)
        guard size > maxBytes else { return nil }
        return "output to \(message.topic) of \(size) bytes is over the producer's message.max.bytes (\(maxBytes)) and could never be sent"
    }

    /// The first refusal among `messages`, or `nil` when every one fits.
    func refusal(_ messages: [OutboundMessage]) -> String? {
        messages.lazy.compactMap { refusal($0) }.first
    }
}
