import CardDomain
@testable import DemoWorld
import Foundation
import Testing

@Suite("Demo families and branches")
struct DemoDataTests {
    static let families = (0..<2000).map(DemoFamilies.family)
    /// A day in the window the demo data is built for (late 2026 to mid-2027).
    static let today = CivilDate(year: 2026, month: 11, day: 25)!

    @Test("a family is a function of its index")
    func deterministic() {
        for index in [0, 1, 13, 37, 499, 1999, 12_345] {
            #expect(DemoFamilies.family(index) == DemoFamilies.family(index))
        }
        #expect(DemoFamilies.family(1) != DemoFamilies.family(2))
        #expect(DemoFamilies.childRefs(families: 50) == DemoFamilies.childRefs(families: 50))
    }

    @Test("every ID number is valid and agrees with the person's birth date, sex and district; none repeats")
    func validIDNumbers() throws {
        var seen = Set<String>()
        for family in Self.families {
            #expect(Catalogues.isBeijingDistrict(family.district))
            #expect(Catalogues.hasHouseNumber(family.address))
            if let landline = family.landline { #expect(Catalogues.isLandline(landline)) }
            #expect(Catalogues.ethnicityName(family.ethnicity) != nil)
            for person in family.members {
                let number = try #require(IDNumber(person.idNumber), "invalid check character in family \(family.index)")
                #expect(number.birthDate == person.birthDate)
                #expect(number.gender == person.gender)
                #expect(number.regionCode == family.district)
                #expect(Catalogues.isMobile(person.mobile))
                #expect(!person.name.isEmpty)
                #expect(seen.insert(person.idNumber).inserted, "ID number repeats in family \(family.index)")
            }
        }
    }

    @Test("children are minors spread over the three age bands; parents are adults born 1975-1995, 22+ years older")
    func ages() {
        var bands: [DemoFamilies.AgeBand: Int] = [:]
        for family in Self.families {
            #expect((1...2).contains(family.children.count))
            #expect(family.father.gender == .male && family.mother.gender == .female)
            for parent in [family.father, family.mother] {
                #expect((1975...1995).contains(parent.birthDate.year))
                #expect(parent.birthDate.age(on: Self.today) >= 18)
            }
            for child in family.children {
                for day in [Self.today, CivilDate(year: 2027, month: 5, day: 31)!] {
                    #expect(child.birthDate.age(on: day) < 18, "family \(family.index) child is an adult on \(day)")
                }
                #expect(child.birthDate.year - family.father.birthDate.year >= 22)
                #expect(child.birthDate.year - family.mother.birthDate.year >= 22)
                if let band = DemoFamilies.band(of: child.birthDate) { bands[band, default: 0] += 1 } else {
                    Issue.record("child of family \(family.index) in no band")
                }
            }
        }
        let ages = Self.families.flatMap(\.children).map { $0.birthDate.age(on: Self.today) }
        #expect(ages.contains { $0 < 7 } && ages.contains { (7...15).contains($0) } && ages.contains { $0 >= 16 })
        #expect(DemoFamilies.AgeBand.allCases.allSatisfy { bands[$0, default: 0] > 100 })
        #expect(Self.families.contains { $0.children.count == 2 })
    }

    @Test("relationships, guardians, households and inactive people are consistent")
    func relationships() {
        var guardians = 0, deceased = 0, cancelled = 0, ownBooklet = 0
        for family in Self.families {
            for child in family.children {
                #expect(child.record.fatherID == family.father.idNumber)
                #expect(child.record.motherID == family.mother.idNumber)
                #expect(child.record.guardianIDs == (family.guardian.map { [$0.idNumber] } ?? []))
                #expect(child.record.householdID == family.householdID)
                #expect(!child.record.isHouseholder)
                #expect(child.isActive)
            }
            // Exactly one head of the family household.
            let heads = family.members.filter { $0.record.householdID == family.householdID && $0.record.isHouseholder }
            #expect(heads.count == 1, "family \(family.index)")
            if let guardian = family.guardian {
                guardians += 1
                #expect(guardian.record.isHouseholder && guardian.record.householdID != family.householdID)
                #expect(guardian.birthDate.age(on: Self.today) >= 60)
            }
            if family.mother.record.householdID != family.householdID { ownBooklet += 1 }
            deceased += family.members.filter { $0.record.status == .deceased }.count
            cancelled += family.members.filter { $0.record.status == .cancelled }.count
            #expect(!family.agents().isEmpty, "family \(family.index) has nobody to apply")
        }
        #expect(guardians == 200)
        #expect(deceased == 40 && cancelled == 40)
        #expect(ownBooklet > 100)
    }

    @Test("a submission built for family i passes IdentityRules.check against the family's registry records")
    func identityAgreesWithRegistry() throws {
        let generator = SubmissionGenerator(options: .init(families: 2000, invalidShare: 0, lateShare: 0, seed: 5, runID: "id"))
        let at = try #require(Timestamp(rfc3339: "2026-11-25T10:15:00+08:00"))
        var rng = DemoRandom(seed: 99)
        var checked = 0, householdRegister = 0
        for family in Self.families.prefix(300) {
            for child in family.children {
                for agent in family.agents() {
                    // Several draws so both ID types and all household answers come up.
                    for draw in 0..<3 {
                        let submission = generator.validSubmission(
                            id: "id-\(family.index)-\(draw)", channel: .hrssWeb, at: at, family: family, child: child, agent: agent, rng: &rng)
                        if submission.applicant.idType == .householdRegister { householdRegister += 1 }
                        let outcome = IdentityRules.check(submission, agent: agent.person.record, applicant: child.record)
                        #expect(outcome == .verified(RelationshipLabel(relationship: agent.relationship, applicantGender: child.gender)),
                                "family \(family.index): \(outcome.reasons.map(\.code))")
                        checked += 1
                    }
                }
            }
        }
        #expect(checked > 1000 && householdRegister > 100)
    }

    @Test("branches: every bank has an open, minors-serving branch in every district; some closed, some not for minors")
    func branches() {
        let all = DemoBranches.all
        #expect(Set(all.map(\.key)).count == all.count)
        #expect(all.allSatisfy { Bank(rawValue: $0.bank) != nil && Catalogues.isBeijingDistrict($0.district) })
        #expect(all.allSatisfy { $0.branch.hasPrefix($0.bank + "-" + $0.district.suffix(4) + "-") })
        for bank in Bank.allCases {
            for district in DemoFamilies.districts {
                let branch = DemoBranches.openMinorsBranch(bank: bank, district: district)
                #expect(branch.open && branch.servesMinors && branch.bank == bank.rawValue && branch.district == district)
                #expect(branch.branch == "\(bank.rawValue)-\(district.suffix(4))-01")
                #expect(all.contains(branch))
                #expect(RoutingRules.check(bank: bank, branchCode: branch.branch, branch: branch).isEmpty)
            }
        }
        for district in DemoFamilies.districts {
            #expect(!DemoBranches.closedBranches(district: district).isEmpty)
            #expect(!DemoBranches.noMinorsBranches(district: district).isEmpty)
        }
        #expect(DemoBranches.branch(bank: .bob, code: "BOB-0105-01")?.name == "北京银行北京朝阳第一支行")
    }
}
