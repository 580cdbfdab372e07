import CardDomain
import Testing

@Suite("EligibilityRules (pure)")
struct EligibilityRulesTests {
    let today = CivilDate(year: 2026, month: 11, day: 25)!

    func person(_ gender: Gender, born: CivilDate, serial: Int, father: String? = nil, mother: String? = nil, guardians: [String] = [],
                household: String? = nil, head: Bool = false) -> RegistryPerson {
        RegistryPerson(idNumber: IDNumber.make(region: "110108", birthDate: born, gender: gender, serial: serial)!.rawValue,
                       name: "王五", gender: gender, birthDate: born, fatherID: father, motherID: mother, guardianIDs: guardians,
                       householdID: household, isHouseholder: head)
    }

    @Test("the label follows the role the child's record gives the agent and the child's sex: 父女, 监护人")
    func labels() {
        let father = person(.male, born: CivilDate(year: 1980, month: 1, day: 1)!, serial: 1, household: "A", head: false)
        let guardian = person(.female, born: CivilDate(year: 1960, month: 1, day: 1)!, serial: 2, household: "B", head: true)
        let daughter = person(.female, born: CivilDate(year: 2012, month: 6, day: 1)!, serial: 3, father: father.idNumber,
                              guardians: [guardian.idNumber], household: "B")
        let byFather = EligibilityRules.check(
            .init(applicantName: "王五", applicantIDType: .householdRegister, applicantIDNumber: daughter.idNumber, agentIDNumber: father.idNumber),
            applicant: daughter, agent: father, hasActiveApplication: false, today: today)
        #expect(byFather.eligible)
        #expect(byFather.relationshipCode == .father && byFather.relationshipLabel == .fatherDaughter)
        // Not the householder, not on her booklet: the birth certificate is required with the household register.
        #expect(byFather.household == Submission.Household(agentIsHouseholder: false, sameBooklet: false))
        #expect(byFather.documentsRequired[.householdRegister]?.contains("documents.birth_certificate") == true)
        #expect(byFather.documentsRequired[.householdRegister]?.contains("documents.householder_own_page") == false)

        let byGuardian = EligibilityRules.check(
            .init(applicantName: "王五", applicantIDType: .residentID, applicantIDNumber: daughter.idNumber, agentIDNumber: guardian.idNumber),
            applicant: daughter, agent: guardian, hasActiveApplication: false, today: today)
        #expect(byGuardian.relationshipCode == .guardian && byGuardian.relationshipLabel == .guardian)
        // The householder on the same booklet: no birth certificate, the householder's own page.
        #expect(byGuardian.documentsRequired[.householdRegister] == [
            "agent.documents.id_front", "agent.documents.id_back", "documents.photo", "documents.householder_page",
            "documents.applicant_page", "documents.householder_own_page"])
    }

    @Test("the day of the 7th, 16th and 18th birthday counts, as at intake")
    func birthdays() {
        let mother = person(.female, born: CivilDate(year: 1980, month: 1, day: 1)!, serial: 4)
        func answer(bornYearsAgo years: Int) -> EligibilityRules.Answer {
            let child = person(.male, born: CivilDate(year: 2026 - years, month: 11, day: 25)!, serial: 5, mother: mother.idNumber)
            return EligibilityRules.check(
                .init(applicantName: "王五", applicantIDType: .householdRegister, applicantIDNumber: child.idNumber, agentIDNumber: mother.idNumber),
                applicant: child, agent: mother, hasActiveApplication: false, today: today)
        }
        #expect(answer(bornYearsAgo: 7).defaultPhotoAllowed == false)
        #expect(answer(bornYearsAgo: 6).defaultPhotoAllowed == true)
        #expect(answer(bornYearsAgo: 16).reasons.map(\.code) == [.idTypeNotAllowed])
        #expect(answer(bornYearsAgo: 15).eligible)
        #expect(answer(bornYearsAgo: 18).reasons.map(\.code) == [.applicantNotMinor, .idTypeNotAllowed])
        #expect(answer(bornYearsAgo: 18).idTypesAllowed.isEmpty)
    }

    @Test("an agent under 18 is AGENT_NOT_ADULT; every reason at once, in the contract's order")
    func everything() {
        let young = person(.female, born: CivilDate(year: 2010, month: 1, day: 1)!, serial: 6)
        let child = person(.male, born: CivilDate(year: 2015, month: 1, day: 1)!, serial: 7)
        let answer = EligibilityRules.check(
            .init(applicantName: "赵六", applicantIDType: .residentID, applicantIDNumber: child.idNumber, agentIDNumber: young.idNumber),
            applicant: child, agent: young, hasActiveApplication: true, today: today)
        #expect(answer.reasons.map(\.code) == [.agentNotAdult, .duplicateActiveApplication, .identityMismatch, .relationshipNotConfirmed])
        #expect(answer.reasons.allSatisfy { !$0.message.contains("赵六") && !$0.message.contains(child.idNumber) })
    }
}
