/// A person's sex as written in every message and encoded in the ID number's 17th character.
public enum Gender: String, Sendable, Hashable, Codable, CaseIterable {
    case male
    case female
}

/// The portal a submission came through.
public enum Channel: String, Sendable, Hashable, Codable, CaseIterable {
    /// 北京市人力资源和社会保障局网站
    case hrssWeb = "hrss_web"
    /// 京通
    case jingtong
    /// 民生一卡通
    case minsheng
}

/// The kind of document a person's `id_number` was taken from.
///
/// The agent may only use `resident_id`; an applicant under 16 may use the household
/// register instead (both carry the same 18-character citizen number).
public enum IDType: String, Sendable, Hashable, Codable, CaseIterable {
    case residentID = "resident_id"
    case householdRegister = "household_register"
}

/// What the agent says they are to the applicant.
public enum Relationship: String, Sendable, Hashable, Codable, CaseIterable {
    case father
    case mother
    case guardian
}

/// The relationship as shown to families once the registry has confirmed it.
public enum RelationshipLabel: String, Sendable, Hashable, Codable, CaseIterable {
    case fatherSon = "父子"
    case fatherDaughter = "父女"
    case motherSon = "母子"
    case motherDaughter = "母女"
    case guardian = "监护人"

    /// The label for an agent's claimed relationship to an applicant of a given sex.
    public init(relationship: Relationship, applicantGender: Gender) {
        switch (relationship, applicantGender) {
        case (.father, .male): self = .fatherSon
        case (.father, .female): self = .fatherDaughter
        case (.mother, .male): self = .motherSon
        case (.mother, .female): self = .motherDaughter
        case (.guardian, _): self = .guardian
        }
    }
}

/// How the finished card reaches the family. Only branch pickup by the agent is offered.
public enum PickupMethod: String, Sendable, Hashable, Codable, CaseIterable {
    case agentBranchPickup = "agent_branch_pickup"
}
