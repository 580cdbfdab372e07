/// The identity rules: agent and applicant against their `registry.persons` records.
///
/// Pure: the identity worker looks both people up and passes what it found. A `nil`
/// record yields PERSON_NOT_FOUND; the worker keeps retrying for its grace period
/// (default 10 minutes) while ``IdentityOutcome/isWaitingForRegistry`` is true and only
/// then publishes the rejection.
public enum IdentityRules {
    /// Checks one accepted submission against the registry.
    ///
    /// - Parameters:
    ///   - submission: the submission intake accepted.
    ///   - agent: the registry record under `agent.id_number`, if any.
    ///   - applicant: the registry record under `applicant.id_number`, if any.
    /// - Returns: `.verified` with the relationship label, or `.rejected` with every reason.
    public static func check(_ submission: Submission, agent: RegistryPerson?, applicant: RegistryPerson?) -> IdentityOutcome {
        check(claimedAgent: submission.agent, claimedApplicant: submission.applicant, household: submission.household,
              agent: agent, applicant: applicant)
    }

    /// ``check(_:agent:applicant:)`` on the parts of the submission it reads (what the identity
    /// worker decodes of its input).
    public static func check(
        claimedAgent: Submission.Agent, claimedApplicant: Submission.Applicant, household: Submission.Household?,
        agent: RegistryPerson?, applicant: RegistryPerson?
    ) -> IdentityOutcome {
        var reasons: [Reason] = []

        // MARK: Found, and the same person
        if let agent {
            if !sameName(agent.name, claimedAgent.name) { reasons.append(Reason(code: .identityMismatch, field: "agent.name")) }
            if agent.gender != claimedAgent.gender { reasons.append(Reason(code: .identityMismatch, field: "agent.gender")) }
            // The agent states no birth date of their own; the one in their number must agree.
            if let number = IDNumber(claimedAgent.idNumber), number.birthDate != agent.birthDate {
                reasons.append(Reason(code: .identityMismatch, field: "agent.id_number"))
            }
        } else {
            reasons.append(Reason(code: .personNotFound, field: "agent"))
        }
        if let applicant {
            if !sameName(applicant.name, claimedApplicant.name) {
                reasons.append(Reason(code: .identityMismatch, field: "applicant.name"))
            }
            if applicant.gender != claimedApplicant.gender {
                reasons.append(Reason(code: .identityMismatch, field: "applicant.gender"))
            }
            if applicant.birthDate != claimedApplicant.birthDate {
                reasons.append(Reason(code: .identityMismatch, field: "applicant.birth_date"))
            }
        } else {
            reasons.append(Reason(code: .personNotFound, field: "applicant"))
        }

        // MARK: Alive and registered
        if let agent, agent.status != .active { reasons.append(Reason(code: .personInactive, field: "agent")) }
        if let applicant, applicant.status != .active { reasons.append(Reason(code: .personInactive, field: "applicant")) }

        // MARK: Relationship, from the applicant's record
        if let applicant, !confirms(applicant, relationship: claimedAgent.relationship, agentIDNumber: claimedAgent.idNumber) {
            reasons.append(Reason(code: .relationshipNotConfirmed, field: "agent.relationship"))
        }

        // MARK: Household answers
        if claimedApplicant.idType == .householdRegister, let household,
           let agent, let applicant {
            reasons += householdMismatches(household, agent: agent, applicant: applicant)
        }

        if reasons.isEmpty {
            return .verified(RelationshipLabel(relationship: claimedAgent.relationship, applicantGender: claimedApplicant.gender))
        }
        return .rejected(Reason.sorted(reasons))
    }

    /// Whether the applicant's record names the agent in the claimed role.
    ///
    /// Strictly the field the claim points at: `father` → `father_id`, `mother` →
    /// `mother_id`, `guardian` → `guardian_ids`. A parent who claims `guardian` is not
    /// confirmed through `father_id`, because the label printed for the family (监护人 vs
    /// 父子) would then rest on something the registry did not say.
    public static func confirms(_ applicant: RegistryPerson, relationship: Relationship, agentIDNumber: String) -> Bool {
        switch relationship {
        case .father: applicant.fatherID == agentIDNumber
        case .mother: applicant.motherID == agentIDNumber
        case .guardian: applicant.guardianIDs.contains(agentIDNumber)
        }
    }

    /// HOUSEHOLD_MISMATCH, one per contradicted answer.
    ///
    /// - `agent_is_householder` must equal the agent's `is_householder`: the question is
    ///   whether the agent heads a household (户主), the one whose booklet they bring.
    /// - `same_booklet` must equal "both have the same non-null `household_id`". When either
    ///   id is null the registry cannot confirm a shared booklet, so a `true` answer is a
    ///   mismatch (it waives the birth certificate and must not rest on nothing) while a
    ///   `false` answer is not contradicted.
    public static func householdMismatches(
        _ household: Submission.Household, agent: RegistryPerson, applicant: RegistryPerson
    ) -> [Reason] {
        var reasons: [Reason] = []
        if household.agentIsHouseholder != agent.isHouseholder {
            reasons.append(Reason(code: .householdMismatch, field: "household.agent_is_householder"))
        }
        let registrySame = agent.householdID != nil && agent.householdID == applicant.householdID
        let bothKnown = agent.householdID != nil && applicant.householdID != nil
        if household.sameBooklet ? !registrySame : (bothKnown && registrySame) {
            reasons.append(Reason(code: .householdMismatch, field: "household.same_booklet"))
        }
        return reasons
    }

    /// Names compare under ``PersonName/normalized(_:)``: NFKC, separator look-alikes folded
    /// to U+00B7, white space trimmed (docs/contract-additions.md, "Names").
    public static func sameName(_ registry: String, _ submitted: String) -> Bool {
        PersonName.same(registry, submitted)
    }
}

/// The identity worker's verdict on one application.
public enum IdentityOutcome: Sendable, Hashable {
    case verified(RelationshipLabel)
    case rejected([Reason])

    public var reasons: [Reason] {
        if case .rejected(let reasons) = self { return reasons }
        return []
    }

    /// Whether a person was not found: the worker should retry within its grace period
    /// before publishing this rejection (the registry feed may simply be behind).
    public var isWaitingForRegistry: Bool { reasons.contains { $0.code == .personNotFound } }
}
