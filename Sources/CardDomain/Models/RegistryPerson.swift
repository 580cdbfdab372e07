/// A person as the population registry feed publishes them on `registry.persons`
/// (compacted, keyed by `id_number`).
public struct RegistryPerson: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case active
        case deceased
        case cancelled
    }

    public var idNumber: String
    public var name: String
    public var gender: Gender
    public var birthDate: CivilDate
    public var status: Status
    public var fatherID: String?
    public var motherID: String?
    /// Legal guardians other than (or besides) the parents; `null` is read as none.
    public var guardianIDs: [String]
    /// The household register (户) the person is in; `nil` when the registry has none.
    public var householdID: String?
    /// Whether the person is the head (户主) of `household_id`.
    public var isHouseholder: Bool

    public init(
        idNumber: String, name: String, gender: Gender, birthDate: CivilDate, status: Status = .active,
        fatherID: String? = nil, motherID: String? = nil, guardianIDs: [String] = [],
        householdID: String? = nil, isHouseholder: Bool = false
    ) {
        self.idNumber = idNumber
        self.name = name
        self.gender = gender
        self.birthDate = birthDate
        self.status = status
        self.fatherID = fatherID
        self.motherID = motherID
        self.guardianIDs = guardianIDs
        self.householdID = householdID
        self.isHouseholder = isHouseholder
    }

    enum CodingKeys: String, CodingKey {
        case idNumber = "id_number"
        case name, gender
        case birthDate = "birth_date"
        case status
        case fatherID = "father_id"
        case motherID = "mother_id"
        case guardianIDs = "guardian_ids"
        case householdID = "household_id"
        case isHouseholder = "is_householder"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        idNumber = try c.decode(String.self, forKey: .idNumber)
        name = try c.decode(String.self, forKey: .name)
        gender = try c.decode(Gender.self, forKey: .gender)
        birthDate = try c.decode(CivilDate.self, forKey: .birthDate)
        status = try c.decode(Status.self, forKey: .status)
        fatherID = try c.decodeIfPresent(String.self, forKey: .fatherID)
        motherID = try c.decodeIfPresent(String.self, forKey: .motherID)
        // "ids may be null": a null or absent list means no guardians on record.
        guardianIDs = try c.decodeIfPresent([String].self, forKey: .guardianIDs) ?? []
        householdID = try c.decodeIfPresent(String.self, forKey: .householdID)
        isHouseholder = try c.decodeIfPresent(Bool.self, forKey: .isHouseholder) ?? false
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(idNumber, forKey: .idNumber)
        try c.encode(name, forKey: .name)
        try c.encode(gender, forKey: .gender)
        try c.encode(birthDate, forKey: .birthDate)
        try c.encode(status, forKey: .status)
        // The feed writes every key, with null for unknown ids; so do we.
        try c.encode(fatherID, forKey: .fatherID)
        try c.encode(motherID, forKey: .motherID)
        try c.encode(guardianIDs, forKey: .guardianIDs)
        try c.encode(householdID, forKey: .householdID)
        try c.encode(isHouseholder, forKey: .isHouseholder)
    }
}
