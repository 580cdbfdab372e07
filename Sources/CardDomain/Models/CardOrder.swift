/// The order the production worker sends to a bank on `card.orders` (`card.order.v1`).
///
/// It carries what the bank needs to print the card, so cardholder data is unmasked here
/// by necessity; the agent's mobile is masked because the bank only shows it to staff
/// matching a caller.
public struct CardOrder: Sendable, Hashable, Codable {
    public static let schemaName = "card.order.v1"
    /// The bank must have the card at the branch this many natural days after ordering.
    public static let productionDays = 30

    public var schema: String
    public var orderID: String
    public var applicationID: String
    public var bank: Bank
    public var branch: String
    public var cardholder: Cardholder
    public var photo: Attachment
    public var functions: [String]
    public var agent: OrderAgent
    public var orderedAt: Timestamp
    /// `ordered_at` + 30 natural days.
    public var dueBy: Timestamp

    public init(
        orderID: String, applicationID: String, bank: Bank, branch: String, cardholder: Cardholder,
        photo: Attachment, functions: [String], agent: OrderAgent, orderedAt: Timestamp, dueBy: Timestamp? = nil
    ) {
        self.schema = Self.schemaName
        self.orderID = orderID
        self.applicationID = applicationID
        self.bank = bank
        self.branch = branch
        self.cardholder = cardholder
        self.photo = photo
        self.functions = functions
        self.agent = agent
        self.orderedAt = orderedAt
        self.dueBy = dueBy ?? orderedAt.adding(days: Self.productionDays)
    }

    /// The order for a verified, routed submission.
    ///
    /// The order id is derived from the application id so a replayed stage produces the
    /// same order, never a second one. Names are printed as `registeredNames` has them when
    /// given (the registry's spelling, e.g. U+00B7 where the portal sent U+2022), else as
    /// submitted.
    public init(submission: Submission, orderedAt: Timestamp, registeredNames: RegisteredNames? = nil) {
        self.init(applicationID: submission.submissionID, agent: submission.agent, applicant: submission.applicant,
                  photo: submission.documents.photo, card: submission.card, orderedAt: orderedAt, registeredNames: registeredNames)
    }

    /// The order from the parts of a submission it prints (what production decodes of its input).
    public init(applicationID: String, agent: Submission.Agent, applicant a: Submission.Applicant, photo: Attachment,
                card: Submission.CardRequest, orderedAt: Timestamp, registeredNames: RegisteredNames? = nil) {
        self.init(
            orderID: Self.orderID(forApplication: applicationID),
            applicationID: applicationID,
            bank: card.bank,
            branch: card.branch,
            cardholder: Cardholder(
                name: registeredNames?.applicant ?? a.name, idNumber: a.idNumber, gender: a.gender, birthDate: a.birthDate,
                nationality: a.nationality, ethnicity: a.ethnicity, district: a.district,
                address: a.address, idValidTo: a.idValidTo, occupation: a.occupation, mobile: a.mobile),
            photo: photo,
            functions: card.functions,
            agent: OrderAgent(name: registeredNames?.agent ?? agent.name, mobileMasked: Masking.mobile(agent.mobile)),
            orderedAt: orderedAt)
    }

    /// `ORD-<application_id>`: deterministic, so redelivery cannot create a second order.
    public static func orderID(forApplication applicationID: String) -> String { "ORD-" + applicationID }

    enum CodingKeys: String, CodingKey {
        case schema
        case orderID = "order_id"
        case applicationID = "application_id"
        case bank, branch, cardholder, photo, functions, agent
        case orderedAt = "ordered_at"
        case dueBy = "due_by"
    }

    /// The child whose card is printed.
    public struct Cardholder: Sendable, Hashable, Codable {
        public var name: String
        public var idNumber: String
        public var gender: Gender
        public var birthDate: CivilDate
        public var nationality: String
        public var ethnicity: String
        public var district: String
        public var address: String
        /// How long the child's ID document is valid, so the bank can print it.
        public var idValidTo: Submission.Validity?
        public var occupation: String?
        public var mobile: String?

        public init(
            name: String, idNumber: String, gender: Gender, birthDate: CivilDate, nationality: String,
            ethnicity: String, district: String, address: String, idValidTo: Submission.Validity? = nil,
            occupation: String? = nil, mobile: String? = nil
        ) {
            self.name = name
            self.idNumber = idNumber
            self.gender = gender
            self.birthDate = birthDate
            self.nationality = nationality
            self.ethnicity = ethnicity
            self.district = district
            self.address = address
            self.idValidTo = idValidTo
            self.occupation = occupation
            self.mobile = mobile
        }

        enum CodingKeys: String, CodingKey {
            case name
            case idNumber = "id_number"
            case gender
            case birthDate = "birth_date"
            case nationality, ethnicity, district, address
            case idValidTo = "id_valid_to"
            case occupation, mobile
        }
    }

    /// Who will collect the card: the agent's name and masked mobile.
    public struct OrderAgent: Sendable, Hashable, Codable {
        public var name: String
        /// Already masked, `134****2458`.
        public var mobileMasked: String

        public init(name: String, mobileMasked: String) {
            self.name = name
            self.mobileMasked = mobileMasked
        }

        enum CodingKeys: String, CodingKey {
            case name
            case mobileMasked = "mobile_masked"
        }
    }
}
