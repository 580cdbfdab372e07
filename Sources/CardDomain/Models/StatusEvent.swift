/// One step of an application, as published on `card.status` (`card.status.v1`).
///
/// `seq` rises by one per application, starting at 1 with `received`; each status of an
/// application is emitted exactly once. Optional fields are omitted when `nil`.
public struct StatusEvent: Sendable, Hashable, Codable {
    public static let schemaName = "card.status.v1"

    public var schema: String
    public var applicationID: String
    public var submissionID: String
    public var status: ApplicationStatus
    /// Empty except for `rejected` and `failed`.
    public var reasons: [Reason]
    /// Set once identity is verified (`identity_verified` and later statuses may carry it).
    public var relationshipLabel: RelationshipLabel?
    public var bank: Bank?
    public var branch: String?
    /// When the bank must have the card at the branch (`in_production` onwards).
    public var dueBy: Timestamp?
    /// `true` on `ready_for_pickup`: the electronic card is issued with the physical one.
    public var eCard: Bool?
    public var at: Timestamp
    public var seq: Int

    public init(
        applicationID: String, submissionID: String? = nil, status: ApplicationStatus,
        reasons: [Reason] = [], relationshipLabel: RelationshipLabel? = nil, bank: Bank? = nil,
        branch: String? = nil, dueBy: Timestamp? = nil, eCard: Bool? = nil, at: Timestamp, seq: Int
    ) {
        self.schema = Self.schemaName
        self.applicationID = applicationID
        // The submission_id is the application_id everywhere downstream.
        self.submissionID = submissionID ?? applicationID
        self.status = status
        self.reasons = reasons
        self.relationshipLabel = relationshipLabel
        self.bank = bank
        self.branch = branch
        self.dueBy = dueBy
        self.eCard = eCard
        self.at = at
        self.seq = seq
    }

    enum CodingKeys: String, CodingKey {
        case schema
        case applicationID = "application_id"
        case submissionID = "submission_id"
        case status, reasons
        case relationshipLabel = "relationship_label"
        case bank, branch
        case dueBy = "due_by"
        case eCard = "e_card"
        case at, seq
    }
}
