import JSONCodec

// What each stage after intake reads of its `card.application.v1` input, decoded through a
// ``JSONSelection`` so only those parts are built (issue 14: decoding the whole envelope was the
// largest single cost of identity, routing and production). The whole text is still checked by
// the strict parser; the submission goes on as its bytes (``RawJSON``); the parts read decode
// with ``Submission``'s own types and rules, and errors carry the same coding paths.

/// Keys of `card.application.v1` and of its submission that the stage inputs read.
private enum EnvelopeKey: String, CodingKey { case submission }
private enum SubmissionKey: String, CodingKey {
    case submissionID = "submission_id"
    case agent, applicant, household, documents, card
}
private enum ApplicantKey: String, CodingKey { case idNumber = "id_number" }
private enum DocumentsKey: String, CodingKey { case photo }

private func submissionContainer(_ decoder: any Decoder) throws -> KeyedDecodingContainer<SubmissionKey> {
    try decoder.container(keyedBy: EnvelopeKey.self).nestedContainer(keyedBy: SubmissionKey.self, forKey: .submission)
}

/// Identity's input: the head, both people, the household answers and the card (for the next key).
public struct IdentityInput: Sendable, Hashable, Decodable {
    public var head: EnvelopeHead
    public var agent: Submission.Agent
    public var applicant: Submission.Applicant
    /// As ``Submission`` reads it: only meaningful (and only required to be well-formed) when the
    /// applicant uses the household register.
    public var household: Submission.Household?
    public var card: Submission.CardRequest

    public static let selection = EnvelopeHead.selection(submission: .members([
        SubmissionKey.agent.stringValue: .all, SubmissionKey.applicant.stringValue: .all,
        SubmissionKey.household.stringValue: .all, SubmissionKey.card.stringValue: .all]))

    public init(from decoder: any Decoder) throws {
        head = try EnvelopeHead(from: decoder)
        let s = try submissionContainer(decoder)
        agent = try s.decode(Submission.Agent.self, forKey: .agent)
        applicant = try s.decode(Submission.Applicant.self, forKey: .applicant)
        if applicant.idType == .householdRegister {
            household = try s.decodeIfPresent(Submission.Household.self, forKey: .household)
        } else {
            household = try? s.decodeIfPresent(Submission.Household.self, forKey: .household)
        }
        card = try s.decode(Submission.CardRequest.self, forKey: .card)
    }
}

/// Routing's input: the head, the card request, and the applicant's ID number (the key of
/// `card.application-closed` when the branch is refused).
public struct RoutingInput: Sendable, Hashable, Decodable {
    public var head: EnvelopeHead
    public var card: Submission.CardRequest
    public var applicantIDNumber: String

    public static let selection = EnvelopeHead.selection(submission: .members([
        SubmissionKey.card.stringValue: .all,
        SubmissionKey.applicant.stringValue: .members([ApplicantKey.idNumber.stringValue: .all])]))

    public init(from decoder: any Decoder) throws {
        head = try EnvelopeHead(from: decoder)
        let s = try submissionContainer(decoder)
        card = try s.decode(Submission.CardRequest.self, forKey: .card)
        applicantIDNumber = try s.nestedContainer(keyedBy: ApplicantKey.self, forKey: .applicant).decode(String.self, forKey: .idNumber)
    }
}

/// Production's input: the head and what a ``CardOrder`` prints (no consents, household answers
/// or document scans besides the photo).
public struct ProductionInput: Sendable, Hashable, Decodable {
    public var head: EnvelopeHead
    public var submissionID: String
    public var agent: Submission.Agent
    public var applicant: Submission.Applicant
    public var photo: Attachment
    public var card: Submission.CardRequest

    public static let selection = EnvelopeHead.selection(submission: .members([
        SubmissionKey.submissionID.stringValue: .all, SubmissionKey.agent.stringValue: .all,
        SubmissionKey.applicant.stringValue: .all, SubmissionKey.card.stringValue: .all,
        SubmissionKey.documents.stringValue: .members([DocumentsKey.photo.stringValue: .all])]))

    public init(from decoder: any Decoder) throws {
        head = try EnvelopeHead(from: decoder)
        let s = try submissionContainer(decoder)
        submissionID = try s.decode(String.self, forKey: .submissionID)
        agent = try s.decode(Submission.Agent.self, forKey: .agent)
        applicant = try s.decode(Submission.Applicant.self, forKey: .applicant)
        photo = try s.nestedContainer(keyedBy: DocumentsKey.self, forKey: .documents).decode(Attachment.self, forKey: .photo)
        card = try s.decode(Submission.CardRequest.self, forKey: .card)
    }

    /// The order for this application (``CardOrder/init(submission:orderedAt:registeredNames:)``).
    public func order(orderedAt: Timestamp) -> CardOrder {
        CardOrder(applicationID: submissionID, agent: agent, applicant: applicant, photo: photo, card: card,
                  orderedAt: orderedAt, registeredNames: head.registeredNames)
    }
}
