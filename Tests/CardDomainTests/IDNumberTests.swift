import Testing

@testable import CardDomain

@Suite("GB 11643-1999 ID numbers")
struct IDNumberTests {
    @Test("the contract's example numbers are valid and decode birth date and sex")
    func contractExamples() throws {
        let agent = try #require(IDNumber(Fixtures.agentID))
        #expect(agent.birthDate == CivilDate(year: 1985, month: 3, day: 7))
        #expect(agent.gender == .female)  // 17th digit 4: even
        let applicant = try #require(IDNumber(Fixtures.applicantID))
        #expect(applicant.birthDate == CivilDate(year: 2015, month: 3, day: 7))
        #expect(applicant.gender == .male)  // 17th digit 1: odd
        #expect(applicant.regionCode == "110105")
    }

    @Test("the standard's own examples, including check character X")
    func standardExamples() throws {
        let withX = try #require(IDNumber("11010519491231002X"))
        #expect(withX.birthDate == CivilDate(year: 1949, month: 12, day: 31))
        #expect(withX.gender == .female)  // 17th digit 2
        #expect(IDNumber("440524188001010014") != nil)
        #expect(IDNumber.checkCharacter(forFirst17: "11010519491231002") == "X")
        #expect(IDNumber.checkCharacter(forFirst17: "44052418800101001") == "4")
    }

    @Test("a wrong check character is rejected", arguments: [
        "110105201503070014", "110105201503070010", "11010519491231002Y", "110105194912310021",
    ])
    func wrongCheckCharacter(_ number: String) {
        #expect(IDNumber(number) == nil)
    }

    @Test("lower-case x is rejected: one spelling per person")
    func lowerCaseX() {
        #expect(IDNumber("11010519491231002x") == nil)
    }

    @Test("wrong length or non-digits are rejected", arguments: [
        "", "11010520150307001", "1101052015030700133", "11010520150307001A", "１１０１０５２０１５０３０７００１３",
        "11010 201503070013",
    ])
    func malformed(_ number: String) {
        #expect(IDNumber(number) == nil)
    }

    @Test("an embedded date that does not exist is rejected even with a right check character")
    func impossibleBirthDate() {
        for first17 in ["11010520150229001", "11010520151301001", "11010520150431001", "11010520150000001"] {
            let check = IDNumber.checkCharacter(forFirst17: first17)!
            #expect(IDNumber(first17 + String(check)) == nil, "\(first17)")
        }
        // 2016 is a leap year: 29 February exists.
        let leap = "11010520160229001"
        #expect(IDNumber(leap + String(IDNumber.checkCharacter(forFirst17: leap)!)) != nil)
    }

    @Test("make builds valid numbers with the requested sex and birth date")
    func make() throws {
        let birth = try #require(CivilDate("2008-02-29"))
        for serial in 0..<30 {
            let male = try #require(IDNumber.make(region: "110108", birthDate: birth, gender: .male, serial: serial))
            let female = try #require(IDNumber.make(region: "110108", birthDate: birth, gender: .female, serial: serial))
            #expect(male.gender == .male && female.gender == .female)
            #expect(male.birthDate == birth && female.birthDate == birth)
            #expect(IDNumber(male.rawValue) == male)
        }
        #expect(IDNumber.make(region: "1101", birthDate: birth, sequence: 1) == nil)
        #expect(IDNumber.make(region: "110108", birthDate: birth, sequence: 1000) == nil)
    }

    @Test("description is masked")
    func descriptionMasked() throws {
        #expect(try #require(IDNumber(Fixtures.applicantID)).description == "110105********0013")
    }
}
