import CardDomain
import Foundation
import JSONCodec
import WorkerRuntime

/// Builds the messages workers emit, each with its deterministic id, so a redelivered input
/// produces byte-for-byte the same output and downstream dedup recognises it.
enum Emit {
    static func json(_ value: some Encodable) throws -> [UInt8] { try CardJSON.encodeBytes(value) }

    /// A `card.status` event keyed by application_id; id `<application>/status/<seq>`.
    /// Its reasons are bounded (``ReasonBounds``) so a status always fits in one record.
    static func status(_ event: StatusEvent, trace: String? = nil) throws -> OutboundMessage {
        var event = event
        event.reasons = ReasonBounds.bounded(event.reasons)
        return OutboundMessage(topic: CardTopics.status, key: event.applicationID, value: try json(event),
                        id: "\(event.applicationID)/status/\(event.seq)", headers: TraceContext.kafkaHeader(trace))
    }

    /// An application handed to the next stage; id `<application>/<topic>`.
    /// Carries the envelope's `traceparent` as a header too.
    /// - Parameter submission: the input envelope's `submission` bytes, when this stage passes it on
    ///   unchanged (``ApplicationEnvelope/encodedBytes(submission:)``); `nil` encodes `envelope.submission`.
    static func envelope(_ envelope: ApplicationEnvelope, to topic: String, key: String, submission: RawJSON? = nil) throws -> OutboundMessage {
        OutboundMessage(topic: topic, key: key, value: try envelope.encodedBytes(submission: submission), id: "\(envelope.applicationID)/\(topic)",
                        headers: TraceContext.kafkaHeader(envelope.traceparent))
    }

    /// The `submission` bytes of an input envelope, to pass on without re-encoding.
    static func rawSubmission(of message: InboundMessage) -> RawJSON? {
        message.value.flatMap { RawJSON(member: "submission", ofObject: $0) }
    }

    /// News for intake that an application ended, freeing the child; id `<application>/closed`.
    static func closed(_ envelope: ApplicationEnvelope, outcome: ApplicationClosed.Outcome, at: Timestamp, trace: String? = nil) throws -> OutboundMessage {
        let closed = ApplicationClosed(applicationID: envelope.applicationID, applicantIDNumber: envelope.applicantIDNumber,
                                       status: outcome, at: at)
        return OutboundMessage(topic: CardTopics.applicationClosed, key: closed.key, value: try json(closed),
                               id: "\(envelope.applicationID)/closed", headers: TraceContext.kafkaHeader(trace))
    }

    /// A rejection at a later stage: the `rejected` status and the news that frees the child.
    static func rejection(_ envelope: ApplicationEnvelope, reasons: [Reason], at: Timestamp, trace: String? = nil) throws -> [OutboundMessage] {
        [
            try status(StatusEvent(applicationID: envelope.applicationID, submissionID: envelope.submissionID, status: .rejected,
                                   reasons: reasons, relationshipLabel: envelope.relationshipLabel, at: at, seq: envelope.seq + 1),
                       trace: trace),
            try closed(envelope, outcome: .rejected, at: at, trace: trace),
        ]
    }
}

enum Decode {

    /// Decodes an internal message; a failure is a poison message (we wrote it, so it should never happen).
    /// - Throws: `PoisonMessage` naming what is wrong (never a value from the payload).
    static func envelope(_ message: InboundMessage) throws -> ApplicationEnvelope {
        try value(ApplicationEnvelope.self, of: message, schema: ApplicationEnvelope.schemaName)
    }

    /// Decodes a message value as `type`.
    /// - Throws: `PoisonMessage` naming what is wrong (never a value from the payload).
    static func value<T: Decodable>(_ type: T.Type, of message: InboundMessage, schema: String) throws -> T {
        do {
            return try CardJSON.decode(type, from: message.value ?? [])
        } catch {
            throw PoisonMessage("not a \(schema) value: \(describe(error))")
        }
    }

    /// A decoding error without the payload's values: only the path and what was wrong.
    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            "missing field \((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            "wrong type at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        case DecodingError.dataCorrupted(let context):
            context.codingPath.isEmpty ? "not valid JSON" : "invalid value at \(context.codingPath.map(\.stringValue).joined(separator: "."))"
        default:
            "undecodable"
        }
    }
}
