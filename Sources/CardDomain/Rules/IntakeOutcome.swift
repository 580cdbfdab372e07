/// What intake makes of one `card.submission` record.
public enum IntakeOutcome: Sendable, Hashable {
    /// The bytes are not JSON (or not UTF-8): dead-letter the record.
    case notJSON(error: String)
    /// JSON, but without a usable `submission_id` (1–64 of `[A-Za-z0-9_-]`): dead-letter it.
    case noUsableSubmissionID(error: String)
    /// A submission with a usable id: accepted, or rejected with every broken rule.
    case parsed(ParsedSubmission)

    /// The text for `card.dlq`'s `error` when the record must be dead-lettered, else `nil`.
    /// It names what was wrong, never a value from the payload.
    public var deadLetterError: String? {
        switch self {
        case .notJSON(let error), .noUsableSubmissionID(let error): error
        case .parsed: nil
        }
    }

    /// The parsed submission, or `nil` for the dead-letter cases.
    public var parsed: ParsedSubmission? {
        if case .parsed(let value) = self { return value }
        return nil
    }
}

/// A submission whose id is usable, with the outcome of the stateless intake rules.
public struct ParsedSubmission: Sendable, Hashable {
    /// The application_id from here on.
    public let submissionID: String
    /// Every broken rule, ordered by the contract's table and then by field, bounded by
    /// ``ReasonBounds`` so the `rejected` status always fits in one Kafka record.
    public private(set) var reasons: [Reason]
    /// The typed submission when the stateless rules found nothing wrong; `nil` otherwise.
    public let submission: Submission?
    /// The applicant's `id_number` as written, if it was a string, even an invalid one:
    /// the worker needs it to look for an active application (DUPLICATE_ACTIVE_APPLICATION
    /// is reported alongside the other reasons).
    public let applicantIDNumber: String?

    public init(submissionID: String, reasons: [Reason], submission: Submission?, applicantIDNumber: String?) {
        self.submissionID = submissionID
        self.reasons = ReasonBounds.bounded(reasons)
        self.submission = reasons.isEmpty ? submission : nil
        self.applicantIDNumber = applicantIDNumber
    }

    /// The submission, if every rule (including any the worker added) passed.
    public var accepted: Submission? { reasons.isEmpty ? submission : nil }

    public var isAccepted: Bool { accepted != nil }

    /// Adds a reason found by a stateful check (the duplicate rule), keeping the order.
    public mutating func add(_ reason: Reason) {
        reasons = ReasonBounds.bounded(reasons + [reason])
    }
}
