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

    /// An application handed to the next stage by a stage after intake: `head` with the input's
    /// submission bytes; id `<application>/<topic>`. Carries the `traceparent` as a header too.
    static func envelope(_ head: EnvelopeHead, to topic: String, key: String, submission: RawJSON) throws -> OutboundMessage {
        OutboundMessage(topic: topic, key: key, value: try head.encodedBytes(submission: submission), id: "\(head.applicationID)/\(topic)",
                        headers: TraceContext.kafkaHeader(head.traceparent))
    }

    /// The `submission` bytes of an input envelope, to pass on without re-encoding; when a key
    /// written with an escape hides the member from the scan (no stage of ours writes one), the
    /// whole envelope is decoded and its submission re-encoded, as every stage did before.
    /// - Throws: `PoisonMessage` when the envelope does not decode.
    static func submissionBytes(of message: InboundMessage) throws -> RawJSON {
        if let raw = message.value.flatMap({ RawJSON(member: "submission", ofObject: $0) }) { return raw }
        return try RawJSON(encoding: try Decode.envelope(message).submission)
    }

    /// News for intake that an application ended, freeing the child; id `<application>/closed`.
    static func closed(_ head: EnvelopeHead, applicantIDNumber: String, outcome: ApplicationClosed.Outcome, at: Timestamp,
                       trace: String? = nil) throws -> OutboundMessage {
        let closed = ApplicationClosed(applicationID: head.applicationID, applicantIDNumber: applicantIDNumber, status: outcome, at: at)
        return OutboundMessage(topic: CardTopics.applicationClosed, key: closed.key, value: try json(closed),
                               id: "\(head.applicationID)/closed", headers: TraceContext.kafkaHeader(trace))
    }

    /// A rejection at a later stage: the `rejected` status and the news that frees the child.
    static func rejection(_ head: EnvelopeHead, applicantIDNumber: String, reasons: [Reason], at: Timestamp,
                          trace: String? = nil) throws -> [OutboundMessage] {
        [
            try status(StatusEvent(applicationID: head.applicationID, submissionID: head.submissionID, status: .rejected,
                                   reasons: reasons, relationshipLabel: head.relationshipLabel, at: at, seq: head.seq + 1),
                       trace: trace),
            try closed(head, applicantIDNumber: applicantIDNumber, outcome: .rejected, at: at, trace: trace),
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

    /// What a stage reads of its `card.application.v1` input (``IdentityInput``, ``RoutingInput``,
    /// ``ProductionInput``), building only the parts `selection` names; the whole text must still be JSON.
    /// - Throws: `PoisonMessage` naming what is wrong (never a value from the payload).
    static func stageInput<T: Decodable>(_ type: T.Type, of message: InboundMessage, selecting selection: JSONSelection) throws -> T {
        do {
            return try CardJSON.decode(type, from: message.value ?? [], selecting: selection)
        } catch {
            throw PoisonMessage("not a \(ApplicationEnvelope.schemaName) value: \(describe(error))")
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
