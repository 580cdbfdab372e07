import JSONCodec

/// A `card.application.v1` envelope without its submission: the fields every stage after intake
/// reads and moves on (seq, stage times, labels, trace), while the submission travels on as the
/// bytes it came in (``RawJSON``).
///
/// Decoding reads exactly the envelope's own members, with ``ApplicationEnvelope``'s keys and
/// rules (optionals missing or `null` are absent); encoding with a submission writes the bytes
/// encoding the whole envelope writes (tests hold the two equal).
public struct EnvelopeHead: Sendable, Hashable, Decodable {
    public var schema: String
    public var applicationID: String
    public var submissionID: String
    public var seq: Int
    public var relationshipLabel: RelationshipLabel?
    public var registeredNames: RegisteredNames?
    public var receivedAt: Timestamp
    public var identityVerifiedAt: Timestamp?
    public var routedAt: Timestamp?
    public var traceparent: String?

    /// The envelope's own fields.
    public init(_ envelope: ApplicationEnvelope) {
        schema = envelope.schema
        applicationID = envelope.applicationID
        submissionID = envelope.submissionID
        seq = envelope.seq
        relationshipLabel = envelope.relationshipLabel
        registeredNames = envelope.registeredNames
        receivedAt = envelope.receivedAt
        identityVerifiedAt = envelope.identityVerifiedAt
        routedAt = envelope.routedAt
        traceparent = envelope.traceparent
    }

    public init(from decoder: any Decoder) throws {
        typealias Key = ApplicationEnvelope.CodingKeys
        let c = try decoder.container(keyedBy: Key.self)
        schema = try c.decode(String.self, forKey: .schema)
        applicationID = try c.decode(String.self, forKey: .applicationID)
        submissionID = try c.decode(String.self, forKey: .submissionID)
        seq = try c.decode(Int.self, forKey: .seq)
        relationshipLabel = try c.decodeIfPresent(RelationshipLabel.self, forKey: .relationshipLabel)
        registeredNames = try c.decodeIfPresent(RegisteredNames.self, forKey: .registeredNames)
        receivedAt = try c.decode(Timestamp.self, forKey: .receivedAt)
        identityVerifiedAt = try c.decodeIfPresent(Timestamp.self, forKey: .identityVerifiedAt)
        routedAt = try c.decodeIfPresent(Timestamp.self, forKey: .routedAt)
        traceparent = try c.decodeIfPresent(String.self, forKey: .traceparent)
    }

    /// A selection of the envelope's own members, whole, and of `submission` as given.
    public static func selection(submission: JSONSelection) -> JSONSelection {
        typealias Key = ApplicationEnvelope.CodingKeys
        var members: [String: JSONSelection] = [:]
        for key: Key in [.schema, .applicationID, .submissionID, .seq, .relationshipLabel, .registeredNames, .receivedAt,
                         .identityVerifiedAt, .routedAt, .traceparent] {
            members[key.stringValue] = .all
        }
        members[Key.submission.stringValue] = submission
        return .members(members)
    }

    /// The envelope as compact JSON (what ``CardJSON/encodeBytes(_:)`` writes for the whole
    /// ``ApplicationEnvelope``), with `submission` written as the given bytes.
    /// - Parameter submission: `RawJSON(member: "submission", ofObject: input)`.
    /// - Throws: what the encoder throws.
    public func encodedBytes(submission: RawJSON) throws -> [UInt8] {
        try CardJSON.encodeBytes(SplicedEnvelope(head: self, submission: submission))
    }
}

/// ``ApplicationEnvelope``'s synthesized encoding field by field (optionals left out when nil),
/// with a raw submission. A field added to the envelope must be added here too: the equality
/// test in RawJSONTests fails otherwise.
private struct SplicedEnvelope: Encodable {
    let head: EnvelopeHead
    let submission: RawJSON

    func encode(to encoder: any Encoder) throws {
        typealias Key = ApplicationEnvelope.CodingKeys
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(head.schema, forKey: .schema)
        try c.encode(head.applicationID, forKey: .applicationID)
        try c.encode(head.submissionID, forKey: .submissionID)
        try c.encode(head.seq, forKey: .seq)
        try c.encode(submission, forKey: .submission)
        try c.encodeIfPresent(head.relationshipLabel, forKey: .relationshipLabel)
        try c.encodeIfPresent(head.registeredNames, forKey: .registeredNames)
        try c.encode(head.receivedAt, forKey: .receivedAt)
        try c.encodeIfPresent(head.identityVerifiedAt, forKey: .identityVerifiedAt)
        try c.encodeIfPresent(head.routedAt, forKey: .routedAt)
        try c.encodeIfPresent(head.traceparent, forKey: .traceparent)
    }
}
