/// 资格校验: whether a child may apply, answered before the form is filled
/// (docs/contract-additions.md, "Gateway: 资格校验").
///
/// Pure, and made of the contract's own rules so that the answer agrees with what intake and
/// identity will decide: the age limits (``AgeLimits``), the identity rules' relationship test
/// (``IdentityRules/confirms(_:relationship:agentIDNumber:)``) and name comparison, the registry's
/// status, the duplicate rule, and the required documents (``DocumentRules``). The caller looks
/// both people up in the registry and counts the child's active applications.
public enum EligibilityRules {
    /// What the portal sends: the child as typed, the logged-in agent, and the consent.
    public struct Question: Sendable, Hashable {
        public var applicantName: String
        public var applicantIDType: IDType
        public var applicantIDNumber: String
        public var agentIDNumber: String

        public init(applicantName: String, applicantIDType: IDType, applicantIDNumber: String, agentIDNumber: String) {
            self.applicantName = applicantName
            self.applicantIDType = applicantIDType
            self.applicantIDNumber = applicantIDNumber
            self.agentIDNumber = agentIDNumber
        }
    }

    /// The answer. `reasons` is empty exactly when `eligible`.
    public struct Answer: Sendable, Hashable {
        public var reasons: [Reason]
        /// The tie the registry records between agent and child (father, then mother, then
        /// guardian: the first the child's record names), with the label identity would print;
        /// `nil` when the registry names none.
        public var relationshipCode: Relationship?
        public var relationshipLabel: RelationshipLabel?
        /// Completed years today, from the ID number; `nil` when the number is unusable.
        public var age: Int?
        /// The applicant ID types the child may still use.
        public var idTypesAllowed: [IDType]
        public var defaultPhotoAllowed: Bool
        /// The household answers as the registry gives them; `nil` unless both people are known.
        public var household: Submission.Household?
        /// Per allowed ID type, the document paths the form must ask for (agent's first).
        public var documentsRequired: [IDType: [String]]

        public var eligible: Bool { reasons.isEmpty }
    }

    /// The bank's production period the portals announce (the contract's `due_by`: 30 natural days).
    public static let productionDays = 30

    /// Answers one question.
    ///
    /// - Parameters:
    ///   - question: the child and agent as the portal sends them.
    ///   - applicant: the registry record under the child's number, if any.
    ///   - agent: the registry record under the agent's number, if any.
    ///   - hasActiveApplication: whether the child already has an application that is neither
    ///     rejected nor failed.
    ///   - today: the Beijing day.
    public static func check(_ question: Question, applicant: RegistryPerson?, agent: RegistryPerson?,
                             hasActiveApplication: Bool, today: CivilDate) -> Answer {
        var reasons: [Reason] = []
        let applicantNumber = IDNumber(question.applicantIDNumber)
        let agentNumber = IDNumber(question.agentIDNumber)
        if applicantNumber == nil { reasons.append(Reason(code: .idNumberInvalid, field: "applicant.id_number")) }
        if agentNumber == nil { reasons.append(Reason(code: .idNumberInvalid, field: "agent.id_number")) }

        // MARK: Age, from the number (the registry is keyed by it)
        let age = applicantNumber.map { $0.birthDate.age(on: today) }
        if let age {
            if age >= AgeLimits.adult { reasons.append(Reason(code: .applicantNotMinor, field: "applicant.birth_date")) }
            if age >= AgeLimits.householdRegisterBelow, question.applicantIDType == .householdRegister {
                reasons.append(Reason(code: .idTypeNotAllowed, field: "applicant.id_type"))
            }
        }
        if let agentNumber, agentNumber.birthDate.age(on: today) < AgeLimits.adult {
            reasons.append(Reason(code: .agentNotAdult, field: "agent.id_number"))
        }
        if hasActiveApplication { reasons.append(.duplicateActiveApplication()) }

        // MARK: Registry
        if applicantNumber != nil {
            if let applicant {
                if !IdentityRules.sameName(applicant.name, question.applicantName) {
                    reasons.append(Reason(code: .identityMismatch, field: "applicant.name"))
                }
                if applicant.status != .active { reasons.append(Reason(code: .personInactive, field: "applicant")) }
            } else {
                reasons.append(Reason(code: .personNotFound, field: "applicant"))
            }
        }
        if agentNumber != nil {
            if let agent {
                if agent.status != .active { reasons.append(Reason(code: .personInactive, field: "agent")) }
            } else {
                reasons.append(Reason(code: .personNotFound, field: "agent"))
            }
        }
        var relationship: Relationship?
        if let applicant, agentNumber != nil {
            relationship = Relationship.allCases.first {
                IdentityRules.confirms(applicant, relationship: $0, agentIDNumber: question.agentIDNumber)
            }
            if relationship == nil { reasons.append(Reason(code: .relationshipNotConfirmed, field: "agent.relationship")) }
        }

        // MARK: What the form may offer and must ask for
        var idTypes: [IDType] = []
        if let age, age < AgeLimits.adult {
            idTypes = age < AgeLimits.householdRegisterBelow ? [.residentID, .householdRegister] : [.residentID]
        }
        var household: Submission.Household?
        if let applicant, let agent {
            household = Submission.Household(
                agentIsHouseholder: agent.isHouseholder,
                sameBooklet: agent.householdID != nil && agent.householdID == applicant.householdID)
        }
        var documents: [IDType: [String]] = [:]
        for idType in idTypes {
            documents[idType] = DocumentRules.AgentSlot.allCases.map(\.path)
                + DocumentRules.requiredSlots(idType: idType, agentIsHouseholder: household?.agentIsHouseholder,
                                              sameBooklet: household?.sameBooklet).map(\.path)
        }
        return Answer(
            reasons: Reason.sorted(reasons),
            relationshipCode: relationship,
            relationshipLabel: relationship.flatMap { r in applicant.map { RelationshipLabel(relationship: r, applicantGender: $0.gender) } },
            age: age,
            idTypesAllowed: idTypes,
            defaultPhotoAllowed: age.map { $0 < AgeLimits.defaultPhotoBelow } ?? false,
            household: household,
            documentsRequired: documents)
    }
}
