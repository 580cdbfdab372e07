import Foundation
import JSONCodec
import Testing

@testable import CardDomain

@Suite("Identity rules against registry.persons")
struct IdentityRulesTests {
    static func submission(_ edit: (inout JSONValue) -> Void = { _ in }) throws -> Submission {
        var tree = Fixtures.sample()
        edit(&tree)
        return try #require(parse(tree)?.accepted)
    }

    static let mother = RegistryPerson(
        idNumber: Fixtures.agentID, name: "张三", gender: .female, birthDate: CivilDate("1985-03-07")!,
        householdID: "H-0105-0001", isHouseholder: true)
    static let child = RegistryPerson(
        idNumber: Fixtures.applicantID, name: "代办二十五", gender: .male, birthDate: CivilDate("2015-03-07")!,
        motherID: Fixtures.agentID, householdID: "H-0105-0001")

    private func check(_ submission: Submission, agent: RegistryPerson? = mother, applicant: RegistryPerson? = child) -> [String] {
        IdentityRules.check(submission, agent: agent, applicant: applicant).reasons.map { "\($0.code.rawValue)@\($0.field ?? "-")" }
    }

    @Test("matching records verify, with the relationship label")
    func verified() throws {
        let outcome = IdentityRules.check(try Self.submission(), agent: Self.mother, applicant: Self.child)
        #expect(outcome == .verified(.motherSon))
        #expect(!outcome.isWaitingForRegistry)
    }

    @Test("relationship labels from relationship and the applicant's sex")
    func labels() {
        #expect(RelationshipLabel(relationship: .father, applicantGender: .male) == .fatherSon)
        #expect(RelationshipLabel(relationship: .father, applicantGender: .female) == .fatherDaughter)
        #expect(RelationshipLabel(relationship: .mother, applicantGender: .male) == .motherSon)
        #expect(RelationshipLabel(relationship: .mother, applicantGender: .female) == .motherDaughter)
        #expect(RelationshipLabel(relationship: .guardian, applicantGender: .female) == .guardian)
        #expect(RelationshipLabel.fatherDaughter.rawValue == "父女")
    }

    @Test("PERSON_NOT_FOUND for each missing person, and the worker is told to wait")
    func notFound() throws {
        let submission = try Self.submission()
        #expect(check(submission, agent: nil) == ["PERSON_NOT_FOUND@agent"])
        // Without the agent, the relationship can still be checked from the child's record.
        #expect(check(submission, applicant: nil) == ["PERSON_NOT_FOUND@applicant"])
        #expect(check(submission, agent: nil, applicant: nil) == ["PERSON_NOT_FOUND@agent", "PERSON_NOT_FOUND@applicant"])
        #expect(IdentityRules.check(submission, agent: nil, applicant: Self.child).isWaitingForRegistry)
    }

    @Test("IDENTITY_MISMATCH at each differing field")
    func mismatch() throws {
        let submission = try Self.submission()
        var child = Self.child
        child.name = "代办二十六"
        child.gender = .female
        child.birthDate = CivilDate("2015-03-08")!
        #expect(check(submission, applicant: child)
            == ["IDENTITY_MISMATCH@applicant.name", "IDENTITY_MISMATCH@applicant.gender", "IDENTITY_MISMATCH@applicant.birth_date"])
        var mother = Self.mother
        mother.name = "张四"
        mother.birthDate = CivilDate("1985-03-08")!
        #expect(check(submission, agent: mother) == ["IDENTITY_MISMATCH@agent.name", "IDENTITY_MISMATCH@agent.id_number"])
        mother = Self.mother
        mother.gender = .male
        #expect(check(submission, agent: mother) == ["IDENTITY_MISMATCH@agent.gender"])
    }

    @Test("names compare without surrounding spaces and with any separator dot")
    func nameNormalisation() throws {
        let submission = try Self.submission { $0[path: "applicant.name"] = "阿依古丽·买买提" }
        var child = Self.child
        child.name = " 阿依古丽•买买提 "
        #expect(check(submission, applicant: child) == [])
        child.name = "阿依古丽买买提"
        #expect(check(submission, applicant: child) == ["IDENTITY_MISMATCH@applicant.name"])
    }

    @Test("PERSON_INACTIVE for a deceased or cancelled record")
    func inactive() throws {
        let submission = try Self.submission()
        var mother = Self.mother
        mother.status = .deceased
        #expect(check(submission, agent: mother) == ["PERSON_INACTIVE@agent"])
        var child = Self.child
        child.status = .cancelled
        #expect(check(submission, applicant: child) == ["PERSON_INACTIVE@applicant"])
    }

    @Test("RELATIONSHIP_NOT_CONFIRMED unless the child's record names the agent in that role")
    func relationship() throws {
        let asMother = try Self.submission()
        var child = Self.child
        child.motherID = nil
        #expect(check(asMother, applicant: child) == ["RELATIONSHIP_NOT_CONFIRMED@agent.relationship"])
        child.motherID = "110105198503072444".replacingOccurrences(of: "2444", with: "2452")
        #expect(check(asMother, applicant: child) == ["RELATIONSHIP_NOT_CONFIRMED@agent.relationship"])

        // A guardian must be in guardian_ids; being the mother does not make the claim "guardian" true.
        let asGuardian = try Self.submission { $0[path: "agent.relationship"] = "guardian" }
        #expect(check(asGuardian) == ["RELATIONSHIP_NOT_CONFIRMED@agent.relationship"])
        child = Self.child
        child.guardianIDs = [Fixtures.agentID]
        #expect(IdentityRules.check(asGuardian, agent: Self.mother, applicant: child) == .verified(.guardian))
    }

    @Test("a father is confirmed through father_id")
    func father() throws {
        let fatherID = Fixtures.id(born: "1983-06-01", .male)
        let submission = try Self.submission {
            $0[path: "agent.relationship"] = "father"
            $0[path: "agent.gender"] = "male"
            $0[path: "agent.id_number"] = .string(fatherID)
            $0[path: "agent.name"] = "李建国"
        }
        let father = RegistryPerson(idNumber: fatherID, name: "李建国", gender: .male, birthDate: CivilDate("1983-06-01")!)
        var child = Self.child
        child.fatherID = fatherID
        #expect(IdentityRules.check(submission, agent: father, applicant: child) == .verified(.fatherSon))
    }

    // MARK: - HOUSEHOLD_MISMATCH

    static func householdSubmission(agentIsHouseholder: Bool, sameBooklet: Bool) throws -> Submission {
        var tree = Fixtures.householdRegister(born: "2015-03-07")
        tree[path: "applicant.id_number"] = .string(Fixtures.applicantID)
        tree[path: "household"] = ["agent_is_householder": .bool(agentIsHouseholder), "same_booklet": .bool(sameBooklet)]
        if !agentIsHouseholder { tree[path: "documents.householder_own_page"] = nil }
        if !(agentIsHouseholder && sameBooklet) { tree[path: "documents.birth_certificate"] = Fixtures.attachmentValue() }
        return try #require(parse(tree)?.accepted)
    }

    @Test("household answers that agree with the registry pass")
    func householdAgrees() throws {
        #expect(check(try Self.householdSubmission(agentIsHouseholder: true, sameBooklet: true)) == [])
        var mother = Self.mother
        mother.isHouseholder = false
        var child = Self.child
        child.householdID = "H-0108-0077"
        #expect(check(try Self.householdSubmission(agentIsHouseholder: false, sameBooklet: false), agent: mother, applicant: child) == [])
    }

    @Test("HOUSEHOLD_MISMATCH for each answer the registry contradicts")
    func householdContradicted() throws {
        var mother = Self.mother
        mother.isHouseholder = false
        var child = Self.child
        child.householdID = "H-0108-0077"
        #expect(check(try Self.householdSubmission(agentIsHouseholder: true, sameBooklet: true), agent: mother, applicant: child)
            == ["HOUSEHOLD_MISMATCH@household.agent_is_householder", "HOUSEHOLD_MISMATCH@household.same_booklet"])
        // Claiming another booklet while the registry has them on the same one.
        #expect(check(try Self.householdSubmission(agentIsHouseholder: true, sameBooklet: false))
            == ["HOUSEHOLD_MISMATCH@household.same_booklet"])
    }

    @Test("same_booklet true cannot rest on a null household_id; false is not contradicted by one")
    func householdUnknown() throws {
        var child = Self.child
        child.householdID = nil
        #expect(check(try Self.householdSubmission(agentIsHouseholder: true, sameBooklet: true), applicant: child)
            == ["HOUSEHOLD_MISMATCH@household.same_booklet"])
        #expect(check(try Self.householdSubmission(agentIsHouseholder: true, sameBooklet: false), applicant: child) == [])
    }

    @Test("household answers are not checked for a resident-ID applicant")
    func householdIgnoredForResidentID() throws {
        var mother = Self.mother
        mother.isHouseholder = false  // the sample claims agent_is_householder: true
        #expect(check(try Self.submission(), agent: mother) == [])
    }
}
