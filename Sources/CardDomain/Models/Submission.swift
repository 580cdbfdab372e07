/// A proxy application as a portal publishes it on `card.submission` (`card.submission.v1`).
///
/// A value of this type has the right shape; whether it obeys the intake rules is
/// ``IntakeValidator``'s business, which is also the only way intake should obtain one
/// (decoding directly would stop at the first problem instead of reporting them all).
public struct Submission: Sendable, Hashable, Codable {
    public static let schemaName = "card.submission.v1"

    public var schema: String
    /// 1–64 of `[A-Za-z0-9_-]`; the application_id downstream and the idempotency key.
    public var submissionID: String
    public var channel: Channel
    public var submittedAt: Timestamp
    public var consents: Consents
    public var agent: Agent
    public var applicant: Applicant
    /// Only meaningful when the applicant uses the household register; ignored otherwise.
    public var household: Household?
    public var documents: Documents
    public var card: CardRequest

    public init(
        schema: String = Submission.schemaName, submissionID: String, channel: Channel,
        submittedAt: Timestamp, consents: Consents, agent: Agent, applicant: Applicant,
        household: Household?, documents: Documents, card: CardRequest
    ) {
        self.schema = schema
        self.submissionID = submissionID
        self.channel = channel
        self.submittedAt = submittedAt
        self.consents = consents
        self.agent = agent
        self.applicant = applicant
        self.household = household
        self.documents = documents
        self.card = card
    }

    enum CodingKeys: String, CodingKey {
        case schema
        case submissionID = "submission_id"
        case channel
        case submittedAt = "submitted_at"
        case consents, agent, applicant, household, documents, card
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schema = try c.decode(String.self, forKey: .schema)
        submissionID = try c.decode(String.self, forKey: .submissionID)
        channel = try c.decode(Channel.self, forKey: .channel)
        submittedAt = try c.decode(Timestamp.self, forKey: .submittedAt)
        consents = try c.decode(Consents.self, forKey: .consents)
        agent = try c.decode(Agent.self, forKey: .agent)
        applicant = try c.decode(Applicant.self, forKey: .applicant)
        // The contract says `household` is ignored unless the household register is used,
        // so a malformed one must not make an otherwise valid submission undecodable.
        if applicant.idType == .householdRegister {
            household = try c.decodeIfPresent(Household.self, forKey: .household)
        } else {
            household = try? c.decodeIfPresent(Household.self, forKey: .household)
        }
        documents = try c.decode(Documents.self, forKey: .documents)
        card = try c.decode(CardRequest.self, forKey: .card)
    }

    /// The Kafka key of the submission: the applicant's ID number.
    public var applicantKey: String { applicant.idNumber }

    // MARK: - Nested types

    /// The three boxes the agent ticks; all must be `true`.
    public struct Consents: Sendable, Hashable, Codable {
        public var disclaimer: Bool
        public var commitment: Bool
        public var dataAuthorization: Bool

        public init(disclaimer: Bool = true, commitment: Bool = true, dataAuthorization: Bool = true) {
            self.disclaimer = disclaimer
            self.commitment = commitment
            self.dataAuthorization = dataAuthorization
        }

        enum CodingKeys: String, CodingKey {
            case disclaimer, commitment
            case dataAuthorization = "data_authorization"
        }
    }

    /// The validity period printed on an ID document's back.
    public enum Validity: Sendable, Hashable, Codable, CustomStringConvertible {
        /// Valid up to and including this day.
        case until(CivilDate)
        /// `long_term` (长期): issued to people over 46, never expires.
        case longTerm

        public static let longTermText = "long_term"

        public init?(_ text: String) {
            if text == Self.longTermText {
                self = .longTerm
            } else if let date = CivilDate(text) {
                self = .until(date)
            } else {
                return nil
            }
        }

        public var description: String {
            switch self {
            case .until(let date): date.description
            case .longTerm: Self.longTermText
            }
        }

        /// Whether the document is valid on `day`, the last day included.
        public func covers(_ day: CivilDate) -> Bool {
            switch self {
            case .until(let last): day <= last
            case .longTerm: true
            }
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            guard let value = Validity(try container.decode(String.self)) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "expected YYYY-MM-DD or long_term")
            }
            self = value
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            try container.encode(description)
        }
    }

    /// The adult applying on the child's behalf.
    public struct Agent: Sendable, Hashable, Codable {
        public var name: String
        public var idType: IDType
        public var idNumber: String
        public var idValidFrom: CivilDate
        public var idValidTo: Validity
        public var gender: Gender
        public var mobile: String
        public var relationship: Relationship
        public var documents: AgentDocuments

        public init(
            name: String, idType: IDType = .residentID, idNumber: String, idValidFrom: CivilDate,
            idValidTo: Validity, gender: Gender, mobile: String, relationship: Relationship,
            documents: AgentDocuments
        ) {
            self.name = name
            self.idType = idType
            self.idNumber = idNumber
            self.idValidFrom = idValidFrom
            self.idValidTo = idValidTo
            self.gender = gender
            self.mobile = mobile
            self.relationship = relationship
            self.documents = documents
        }

        enum CodingKeys: String, CodingKey {
            case name
            case idType = "id_type"
            case idNumber = "id_number"
            case idValidFrom = "id_valid_from"
            case idValidTo = "id_valid_to"
            case gender, mobile, relationship, documents
        }
    }

    /// Scans of the agent's own resident ID card.
    public struct AgentDocuments: Sendable, Hashable, Codable {
        public var idFront: ClaimCheck
        public var idBack: ClaimCheck

        public init(idFront: ClaimCheck, idBack: ClaimCheck) {
            self.idFront = idFront
            self.idBack = idBack
        }

        enum CodingKeys: String, CodingKey {
            case idFront = "id_front"
            case idBack = "id_back"
        }
    }

    /// The minor the card is for.
    public struct Applicant: Sendable, Hashable, Codable {
        public var name: String
        public var idType: IDType
        public var idNumber: String
        public var idValidFrom: CivilDate
        public var idValidTo: Validity
        public var gender: Gender
        public var birthDate: CivilDate
        /// ISO 3166-1 alpha-3; only `CHN` is accepted.
        public var nationality: String
        /// GB 3304-1991 two-digit code, `01`…`56`.
        public var ethnicity: String
        /// `student`, `preschool`, `other` or a GB/T 6565-2015 major group `1`…`8`.
        public var occupation: String
        /// One of Beijing's 16 district codes.
        public var district: String
        public var address: String
        public var mobile: String
        public var landline: String?

        public init(
            name: String, idType: IDType, idNumber: String, idValidFrom: CivilDate, idValidTo: Validity,
            gender: Gender, birthDate: CivilDate, nationality: String = "CHN", ethnicity: String,
            occupation: String, district: String, address: String, mobile: String, landline: String? = nil
        ) {
            self.name = name
            self.idType = idType
            self.idNumber = idNumber
            self.idValidFrom = idValidFrom
            self.idValidTo = idValidTo
            self.gender = gender
            self.birthDate = birthDate
            self.nationality = nationality
            self.ethnicity = ethnicity
            self.occupation = occupation
            self.district = district
            self.address = address
            self.mobile = mobile
            self.landline = landline
        }

        enum CodingKeys: String, CodingKey {
            case name
            case idType = "id_type"
            case idNumber = "id_number"
            case idValidFrom = "id_valid_from"
            case idValidTo = "id_valid_to"
            case gender
            case birthDate = "birth_date"
            case nationality, ethnicity, occupation, district, address, mobile, landline
        }
    }

    /// The two household-register questions.
    public struct Household: Sendable, Hashable, Codable {
        public var agentIsHouseholder: Bool
        public var sameBooklet: Bool

        public init(agentIsHouseholder: Bool, sameBooklet: Bool) {
            self.agentIsHouseholder = agentIsHouseholder
            self.sameBooklet = sameBooklet
        }

        enum CodingKeys: String, CodingKey {
            case agentIsHouseholder = "agent_is_householder"
            case sameBooklet = "same_booklet"
        }
    }

    /// The applicant's documents; which slots are required depends on `applicant.id_type`
    /// (see ``DocumentRules``), so all but the photo are optional here.
    public struct Documents: Sendable, Hashable, Codable {
        public var photo: Attachment
        public var idFront: ClaimCheck?
        public var idBack: ClaimCheck?
        public var birthCertificate: ClaimCheck?
        public var householderPage: ClaimCheck?
        public var applicantPage: ClaimCheck?
        public var householderOwnPage: ClaimCheck?
        public var applicantChangePage: ClaimCheck?
        public var householderChangePage: ClaimCheck?

        public init(
            photo: Attachment, idFront: ClaimCheck? = nil, idBack: ClaimCheck? = nil,
            birthCertificate: ClaimCheck? = nil, householderPage: ClaimCheck? = nil,
            applicantPage: ClaimCheck? = nil, householderOwnPage: ClaimCheck? = nil,
            applicantChangePage: ClaimCheck? = nil, householderChangePage: ClaimCheck? = nil
        ) {
            self.photo = photo
            self.idFront = idFront
            self.idBack = idBack
            self.birthCertificate = birthCertificate
            self.householderPage = householderPage
            self.applicantPage = applicantPage
            self.householderOwnPage = householderOwnPage
            self.applicantChangePage = applicantChangePage
            self.householderChangePage = householderChangePage
        }

        enum CodingKeys: String, CodingKey {
            case photo
            case idFront = "id_front"
            case idBack = "id_back"
            case birthCertificate = "birth_certificate"
            case householderPage = "householder_page"
            case applicantPage = "applicant_page"
            case householderOwnPage = "householder_own_page"
            case applicantChangePage = "applicant_change_page"
            case householderChangePage = "householder_change_page"
        }
    }

    /// Which bank makes the card, where the agent collects it, and what it does.
    public struct CardRequest: Sendable, Hashable, Codable {
        public var bank: Bank
        public var branch: String
        public var pickup: PickupMethod
        /// Card functions as the portal names them (`social_security`, `medical_settlement`…).
        public var functions: [String]

        public init(bank: Bank, branch: String, pickup: PickupMethod = .agentBranchPickup, functions: [String]) {
            self.bank = bank
            self.branch = branch
            self.pickup = pickup
            self.functions = functions
        }

        enum CodingKeys: String, CodingKey {
            case bank, branch, pickup, functions
        }

        /// The Kafka key of `card.bank-routing` and `bank.branches`: `bank/branch`.
        public var routingKey: String { Branch.key(bank: bank.rawValue, branch: branch) }
    }
}
