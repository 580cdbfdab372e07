/// News for intake that a later stage ended an application, so the child may apply again.
///
/// Schema `card.application-closed.v1`, keyed by `applicant_id_number` so it lands on the
/// intake partition that holds the child's entry (card.status is keyed by application_id
/// and would land elsewhere).
public struct ApplicationClosed: Sendable, Hashable, Codable {
    public static let schemaName = "card.application-closed.v1"

    /// The two ways an application ends without a card.
    public enum Outcome: String, Sendable, Hashable, Codable, CaseIterable {
        case rejected
        case failed

        public var status: ApplicationStatus { self == .rejected ? .rejected : .failed }
    }

    public var schema: String
    public var applicationID: String
    public var applicantIDNumber: String
    public var status: Outcome
    public var at: Timestamp

    public init(applicationID: String, applicantIDNumber: String, status: Outcome, at: Timestamp) {
        self.schema = Self.schemaName
        self.applicationID = applicationID
        self.applicantIDNumber = applicantIDNumber
        self.status = status
        self.at = at
    }

    /// The Kafka key: the applicant's ID number, like `card.submission`.
    public var key: String { applicantIDNumber }

    enum CodingKeys: String, CodingKey {
        case schema
        case applicationID = "application_id"
        case applicantIDNumber = "applicant_id_number"
        case status, at
    }
}
