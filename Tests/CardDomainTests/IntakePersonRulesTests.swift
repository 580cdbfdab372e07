import Foundation
import Testing

@testable import CardDomain

/// Ages, ID numbers, ID validity and the relationship: the rules about the two people.
/// The sample is submitted on 2026-11-25 (Beijing), so "today" is 2026-11-25.
@Suite("Intake: people, ages and ID documents")
struct IntakePersonRulesTests {
    // MARK: - APPLICANT_NOT_MINOR

    @Test("APPLICANT_NOT_MINOR: 18 on the day itself is not a minor; the day before still is")
    func applicantEighteen() {
        #expect(codes(Fixtures.applicant(born: "2008-11-25")) == ["APPLICANT_NOT_MINOR@applicant.birth_date"])
        #expect(codes(Fixtures.applicant(born: "2008-11-26")) == [])  // turns 18 tomorrow
    }

    @Test("APPLICANT_NOT_MINOR uses the Beijing day: 16:30Z on the 24th is already the 25th")
    func applicantAgeInShanghai() {
        #expect(codes(Fixtures.applicant(born: "2008-11-25", submittedAt: "2026-11-24T16:30:00Z"))
            == ["APPLICANT_NOT_MINOR@applicant.birth_date"])
        #expect(codes(Fixtures.applicant(born: "2008-11-25", submittedAt: "2026-11-24T15:59:59Z")) == [])
        #expect(codes(Fixtures.applicant(born: "2008-11-25", submittedAt: "2026-11-25T00:30:00+09:00")) == [])  // 23:30 in Beijing
    }

    @Test("APPLICANT_NOT_MINOR for a 29 February birthday: still a minor on 28 February, 18 on 1 March")
    func leapDayApplicant() {
        // Keep the IDs valid on those days: the sample's run to 2028.
        #expect(codes(Fixtures.applicant(born: "2008-02-29", submittedAt: "2026-02-28T23:59:59+08:00")) == [])
        #expect(codes(Fixtures.applicant(born: "2008-02-29", submittedAt: "2026-03-01T00:00:00+08:00"))
            == ["APPLICANT_NOT_MINOR@applicant.birth_date"])
    }

    // MARK: - ID_TYPE_NOT_ALLOWED

    @Test("ID_TYPE_NOT_ALLOWED: the household register from 16 on the day; 15 the day before is fine")
    func householdRegisterSixteen() {
        // Agent is householder on the same booklet: no birth certificate needed.
        #expect(codes(Fixtures.householdRegister(born: "2010-11-25")) == ["ID_TYPE_NOT_ALLOWED@applicant.id_type"])
        #expect(codes(Fixtures.householdRegister(born: "2010-11-26")) == [])
    }

    @Test("a 16-year-old with a resident ID is fine")
    func residentIDAtSixteen() {
        #expect(codes(Fixtures.applicant(born: "2010-11-25")) == [])
    }

    // MARK: - AGENT_NOT_ADULT

    @Test("AGENT_NOT_ADULT: an agent of 18 on the day is adult; the day before they are not")
    func agentEighteen() {
        var tree = Fixtures.sample()
        tree[path: "agent.id_number"] = .string(Fixtures.id(born: "2008-11-25", .female))
        #expect(codes(tree) == [])
        tree[path: "agent.id_number"] = .string(Fixtures.id(born: "2008-11-26", .female))
        #expect(codes(tree) == ["AGENT_NOT_ADULT@agent.id_number"])
    }

    // MARK: - ID_NUMBER_INVALID

    @Test("ID_NUMBER_INVALID for either person, at that person's id_number")
    func idNumberInvalid() {
        var tree = Fixtures.sample()
        tree[path: "agent.id_number"] = "110105198503072445"  // check character should be 4
        tree[path: "applicant.id_number"] = "11010520150307001"  // 17 characters
        #expect(codes(tree) == ["ID_NUMBER_INVALID@agent.id_number", "ID_NUMBER_INVALID@applicant.id_number"])
    }

    @Test("an ID number ending in X is accepted")
    func idNumberWithX() throws {
        // Find a number for the applicant's birth date and sex whose check character is X.
        let birth = try #require(CivilDate("2015-03-07"))
        let number = try #require((0..<500).lazy
            .compactMap { IDNumber.make(region: "110105", birthDate: birth, gender: .male, serial: $0) }
            .first { $0.rawValue.hasSuffix("X") })
        var tree = Fixtures.sample()
        tree[path: "applicant.id_number"] = .string(number.rawValue)
        #expect(codes(tree) == [])
        tree[path: "applicant.id_number"] = .string(String(number.rawValue.dropLast()) + "0")
        #expect(codes(tree) == ["ID_NUMBER_INVALID@applicant.id_number"])
    }

    @Test("an ID number whose embedded date does not exist is ID_NUMBER_INVALID, and its other checks are skipped")
    func idNumberImpossibleDate() {
        let first17 = "11010520150230001"  // 30 February
        var tree = Fixtures.sample()
        tree[path: "applicant.id_number"] = .string(first17 + String(IDNumber.checkCharacter(forFirst17: first17)!))
        #expect(codes(tree) == ["ID_NUMBER_INVALID@applicant.id_number"])
    }

    // MARK: - ID_BIRTH_DATE_MISMATCH

    @Test("ID_BIRTH_DATE_MISMATCH when birth_date differs from the number's date")
    func birthDateMismatch() {
        var tree = Fixtures.sample()
        tree[path: "applicant.birth_date"] = "2015-03-08"
        #expect(codes(tree) == ["ID_BIRTH_DATE_MISMATCH@applicant.birth_date"])
    }

    @Test("the age comes from the number when birth_date disagrees: an adult cannot hide behind birth_date")
    func ageFromNumber() {
        var tree = Fixtures.applicant(born: "2000-01-01")
        tree[path: "applicant.birth_date"] = "2015-03-07"
        #expect(codes(tree) == ["APPLICANT_NOT_MINOR@applicant.birth_date", "ID_BIRTH_DATE_MISMATCH@applicant.birth_date"])
    }

    // MARK: - ID_GENDER_MISMATCH

    @Test("ID_GENDER_MISMATCH at the gender of the person whose number disagrees")
    func genderMismatch() {
        var tree = Fixtures.sample()
        tree[path: "applicant.gender"] = "female"  // number's 17th digit is 1: male
        #expect(codes(tree) == ["ID_GENDER_MISMATCH@applicant.gender"])

        tree = Fixtures.sample()
        tree[path: "agent.gender"] = "male"  // number's 17th digit is 4: female; and a male mother
        #expect(codes(tree) == ["ID_GENDER_MISMATCH@agent.gender", "RELATIONSHIP_GENDER_MISMATCH@agent.relationship"])
    }

    // MARK: - ID_EXPIRED

    @Test("ID_EXPIRED: valid until yesterday is expired, valid until today is not")
    func validUntil() {
        var tree = Fixtures.sample()
        tree[path: "agent.id_valid_to"] = "2026-11-24"
        #expect(codes(tree) == ["ID_EXPIRED@agent.id_valid_to"])
        tree[path: "agent.id_valid_to"] = "2026-11-25"
        #expect(codes(tree) == [])
        tree[path: "applicant.id_valid_to"] = "2026-11-24"
        #expect(codes(tree) == ["ID_EXPIRED@applicant.id_valid_to"])
    }

    @Test("ID_EXPIRED: long_term never ends")
    func longTerm() {
        var tree = Fixtures.sample()
        tree[path: "agent.id_valid_to"] = "long_term"
        tree[path: "applicant.id_valid_to"] = "long_term"
        #expect(codes(tree) == [])
    }

    @Test("ID_EXPIRED: a period starting after submitted_at is reported at id_valid_to; starting today is fine")
    func startsLater() {
        var tree = Fixtures.sample()
        tree[path: "agent.id_valid_from"] = "2026-11-26"
        #expect(codes(tree) == ["ID_EXPIRED@agent.id_valid_to"])
        tree[path: "agent.id_valid_from"] = "2026-11-25"
        #expect(codes(tree) == [])
    }

    @Test("ID_EXPIRED once per person even when both ends are wrong")
    func bothEndsWrong() {
        var tree = Fixtures.sample()
        tree[path: "applicant.id_valid_from"] = "2027-01-01"
        tree[path: "applicant.id_valid_to"] = "2026-01-01"
        #expect(codes(tree) == ["ID_EXPIRED@applicant.id_valid_to"])
    }

    // MARK: - RELATIONSHIP_GENDER_MISMATCH

    @Test("RELATIONSHIP_GENDER_MISMATCH: a father must be male, a mother female; a guardian either", arguments: [
        ("father", "female", true), ("mother", "male", true),
        ("father", "male", false), ("mother", "female", false),
        ("guardian", "male", false), ("guardian", "female", false),
    ])
    func relationshipGender(_ relationship: String, _ gender: String, _ mismatch: Bool) {
        var tree = Fixtures.sample()
        tree[path: "agent.relationship"] = .string(relationship)
        tree[path: "agent.gender"] = .string(gender)
        tree[path: "agent.id_number"] = .string(Fixtures.id(born: "1985-03-07", gender == "male" ? .male : .female))
        #expect(codes(tree) == (mismatch ? ["RELATIONSHIP_GENDER_MISMATCH@agent.relationship"] : []))
    }
}
