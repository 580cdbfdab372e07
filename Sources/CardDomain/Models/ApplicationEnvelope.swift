import JSONCodec

/// An application in flight between workers, on the project's internal topics
/// (`card.identity-verification`, `card.bank-routing`, `card.card-production`).
///
/// Schema `card.application.v1`. It carries the whole validated submission so each stage
/// is self-contained and needs no lookup into another worker's state.
public struct ApplicationEnvelope: Sendable, Hashable, Codable {
    public static let schemaName = "card.application.v1"

    public var schema: String
    public var applicationID: String
    public var submissionID: String
    /// The `seq` of the last status emitted for this application; the next stage emits
    /// `seq + 1`, which makes its status id deterministic across redeliveries.
    public var seq: Int
    public var submission: Submission
    /// Set by the identity worker once the registry has confirmed the relationship.
    public var relationshipLabel: RelationshipLabel?
    /// The two names as the registry holds them, set by the identity worker on success:
    /// what the card prints (a portal may have sent a look-alike of the separator dot).
    public var registeredNames: RegisteredNames?
    /// When intake accepted the application (the `received` status's `at`).
    public var receivedAt: Timestamp
    /// When identity was verified, for stage latency metrics.
    public var identityVerifiedAt: Timestamp?
    /// When the branch was confirmed, for stage latency metrics.
    public var routedAt: Timestamp?
    /// An optional W3C `traceparent` to stitch one application's spans across workers.
    public var traceparent: String?

    public init(
        submission: Submission, seq: Int, receivedAt: Timestamp, relationshipLabel: RelationshipLabel? = nil,
        identityVerifiedAt: Timestamp? = nil, routedAt: Timestamp? = nil, traceparent: String? = nil
    ) {
        self.schema = Self.schemaName
        self.applicationID = submission.submissionID
        self.submissionID = submission.submissionID
        self.seq = seq
        self.submission = submission
        self.relationshipLabel = relationshipLabel
        self.receivedAt = receivedAt
        self.identityVerifiedAt = identityVerifiedAt
        self.routedAt = routedAt
        self.traceparent = traceparent
    }

    /// The applicant's ID number: the key for news sent back to intake.
    public var applicantIDNumber: String { submission.applicant.idNumber }

    /// The `bank/branch` key of `card.bank-routing`.
    public var routingKey: String { submission.card.routingKey }

    enum CodingKeys: String, CodingKey {
        case schema
        case applicationID = "application_id"
        case submissionID = "submission_id"
        case seq, submission
        case relationshipLabel = "relationship_label"
        case registeredNames = "registered_names"
        case receivedAt = "received_at"
        case identityVerifiedAt = "identity_verified_at"
        case routedAt = "routed_at"
        case traceparent
    }
}

/// The registry's spelling of the agent's and applicant's names (`registered_names` in
/// `card.application.v1`): names compare under ``PersonName``'s normalisation, but the card
/// and the order print exactly what the registry holds.
public struct RegisteredNames: Sendable, Hashable, Codable {
    public var agent: String
    public var applicant: String

    public init(agent: String, applicant: String) {
        self.agent = agent
        self.applicant = applicant
    }
}

extension ApplicationEnvelope {
    /// The envelope as compact JSON (what ``CardJSON/encodeBytes(_:)`` writes), with `submission`
    /// written as `submission` bytes read from the input envelope instead of re-encoded.
    ///
    /// For a stage that passes the submission on unchanged: the bytes are those the previous
    /// stage's encoder wrote, so the result equals re-encoding (tests hold the two equal).
    /// - Parameter submission: `RawJSON(member: "submission", ofObject: input)`; `nil`: encodes `self.submission`.
    /// - Throws: what the encoder throws.
    public func encodedBytes(submission: RawJSON?) throws -> [UInt8] {
        guard let submission else { return try CardJSON.encodeBytes(self) }
        return try EnvelopeHead(self).encodedBytes(submission: submission)
    }
}
