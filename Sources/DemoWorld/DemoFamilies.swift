import CardDomain

/// Deterministic demo families for `registry.persons`: family `i` is always the same people.
///
/// The model, which the submission generator and the worker tests rely on:
/// - Family `i` lives in district `DemoFamilies.districts[i % 16]`; every ID number starts
///   with that district code. Its household is `<district>-<i+1, 7 digits>` (`110105-0000003`).
/// - A father (male) and a mother (female), born 1975–1995 and at least 22 years older than
///   their oldest child; one of them is the householder (户主) of the family household.
/// - One child (55%) or two (45%), each in one of three age bands fixed by birth date
///   (see ``AgeBand``): under 7, 7–15, 16–17 (valid as minors until mid-2027 at least).
///   Children have `father_id` and `mother_id` set and live in the family household.
/// - Families with `i % 10 == 3` also have a guardian: a grandparent born 1950–1966 who heads
///   a household of their own; the children list them in `guardian_ids`.
/// - Families with `i % 9 == 4` have the mother head a household of her own (a different
///   booklet from the children's), so `same_booklet` is false when she applies.
/// - Inactive people, for PERSON_INACTIVE demos: in families with `i % 50 == 13` (guardian
///   families) the father is `deceased`; in families with `i % 50 == 37` the mother is `cancelled`.
/// - ID numbers are unique for up to 2000 families (125 per district): the 3-digit sequence
///   is `(i / 16 % 125) * 8 + role slot`, so two people can only share a number if they also
///   share a birth date, which the day-level spread makes rare beyond 2000 families.
package enum DemoFamilies {
    /// Beijing's 16 district codes, in GB/T 2260 order.
    package static let districts = [
        "110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111",
        "110112", "110113", "110114", "110115", "110116", "110117", "110118", "110119",
    ]

    /// Families per district with guaranteed-unique ID numbers.
    static let uniquePerDistrict = 125

    /// The age bands of demo children, by birth date.
    enum AgeBand: String, Sendable, CaseIterable {
        /// Born 2020-09-02…2025-08-31: under 7 (default photo allowed) until 2027-09 at least.
        case underSeven = "under_7"
        /// Born 2011-09-02…2018-08-31: 7–15 (household register allowed) in late 2026 / 2027.
        case school = "7_15"
        /// Born 2009-06-01…2010-08-31: 16–17 (resident ID only) in late 2026 and until 2027-06.
        case teen = "16_17"

        var birthRange: ClosedRange<CivilDate> {
            switch self {
            case .underSeven: CivilDate(year: 2020, month: 9, day: 2)!...CivilDate(year: 2025, month: 8, day: 31)!
            case .school: CivilDate(year: 2011, month: 9, day: 2)!...CivilDate(year: 2018, month: 8, day: 31)!
            case .teen: CivilDate(year: 2009, month: 6, day: 1)!...CivilDate(year: 2010, month: 8, day: 31)!
            }
        }
    }

    /// Role of a person in their family; also their ID sequence slot.
    enum Role: String, Sendable {
        case father, mother, child, guardian
    }

    /// A demo person: their registry record plus what portals also ask for.
    package struct Person: Sendable, Hashable {
        package var record: RegistryPerson
        var role: Role
        /// A valid mainland mobile (`^1[3-9][0-9]{9}$`).
        var mobile: String

        var idNumber: String { record.idNumber }
        var name: String { record.name }
        var gender: Gender { record.gender }
        var birthDate: CivilDate { record.birthDate }
        var isActive: Bool { record.status == .active }
    }

    package struct Family: Sendable, Hashable {
        var index: Int
        var district: String
        var householdID: String
        /// Home address with a house number (`北京市朝阳区建国路88号院3号楼2单元401室`).
        var address: String
        var landline: String?
        /// GB 3304-1991 code of the family's ethnicity (`01` mostly).
        var ethnicity: String
        var father: Person
        var mother: Person
        var children: [Person]
        var guardian: Person?

        /// Everyone in the family, adults first: what `fleet seed` publishes.
        package var members: [Person] { [father, mother] + (guardian.map { [$0] } ?? []) + children }
        var registryRecords: [RegistryPerson] { members.map(\.record) }

        /// The adults who may act for `child` as the registry records it, with the claimed relationship.
        /// Only active people are listed unless `includeInactive`.
        func agents(includeInactive: Bool = false) -> [(person: Person, relationship: Relationship)] {
            var result: [(Person, Relationship)] = [(father, .father), (mother, .mother)]
            if let guardian { result.append((guardian, .guardian)) }
            return result.filter { includeInactive || $0.0.isActive }
        }
    }

    // MARK: - Building a family

    /// Family `index` (0-based). Pure and deterministic.
    package static func family(_ index: Int) -> Family {
        precondition(index >= 0, "family index must not be negative")
        var rng = DemoRandom(salt: 0xFA31_1E5, index: index)
        let district = districts[index % districts.count]
        let k = index / districts.count
        let slotBase = (k % uniquePerDistrict) * 8
        let householdID = district + "-" + padded(index + 1, 7)

        // Children first: their birth years bound the parents'.
        let childCount = rng.chance(0.45) ? 2 : 1
        var childBirths: [(CivilDate, Gender)] = []
        for _ in 0..<childCount {
            var birth = randomDate(in: band(&rng).birthRange, &rng)
            // A sibling at least ten months apart.
            var attempts = 0
            while let other = childBirths.first, abs(other.0.daysSinceEpoch - birth.daysSinceEpoch) < 300, attempts < 8 {
                birth = randomDate(in: band(&rng).birthRange, &rng)
                attempts += 1
            }
            childBirths.append((birth, rng.chance(0.5) ? .male : .female))
        }
        let oldestChildYear = childBirths.map(\.0.year).min()!
        let parentYears = 1975...min(1995, oldestChildYear - 22)

        let surname = rng.pick(DemoNames.surnames)
        var motherSurname = rng.pick(DemoNames.surnames)
        if motherSurname == surname { motherSurname = rng.pick(DemoNames.surnames) }

        func person(_ role: Role, slot: Int, gender: Gender, birth: CivilDate, name: String, rng: inout DemoRandom) -> Person {
            // The slot's parity is the sex digit: even slots are women, odd ones men.
            let id = IDNumber.make(region: district, birthDate: birth, sequence: slotBase + slot)!
            precondition(id.gender == gender, "slot parity must match the sex digit")
            return Person(
                record: RegistryPerson(idNumber: id.rawValue, name: name, gender: gender, birthDate: birth),
                role: role, mobile: mobile(&rng))
        }

        // Slots: 0 mother (even), 1 father (odd), 2/3 child 1 f/m, 4/5 child 2 f/m, 6/7 guardian f/m.
        var father = person(.father, slot: 1, gender: .male,
                            birth: randomDate(in: yearRange(parentYears), &rng),
                            name: surname + DemoNames.givenName(.male, &rng), rng: &rng)
        var mother = person(.mother, slot: 0, gender: .female,
                            birth: randomDate(in: yearRange(parentYears), &rng),
                            name: motherSurname + DemoNames.givenName(.female, &rng), rng: &rng)
        var guardian: Person?
        if index % 10 == 3 {
            let gender: Gender = rng.chance(0.5) ? .male : .female
            let guardianSurname = gender == .male ? surname : motherSurname
            var g = person(.guardian, slot: gender == .male ? 7 : 6, gender: gender,
                           birth: randomDate(in: yearRange(1950...1966), &rng),
                           name: guardianSurname + DemoNames.givenName(gender, &rng), rng: &rng)
            g.record.householdID = district + "-" + padded(8_000_000 + index, 7)
            g.record.isHouseholder = true
            guardian = g
        }

        // Household: one parent heads the family household; sometimes the mother keeps her own booklet.
        father.record.householdID = householdID
        mother.record.householdID = householdID
        if index % 9 == 4 {
            mother.record.householdID = district + "-" + padded(5_000_000 + index, 7)
            mother.record.isHouseholder = true
            father.record.isHouseholder = true
        } else if rng.chance(0.6) {
            father.record.isHouseholder = true
        } else {
            mother.record.isHouseholder = true
        }

        var children: [Person] = []
        for (n, (birth, gender)) in childBirths.enumerated() {
            var child = person(.child, slot: 2 + n * 2 + (gender == .male ? 1 : 0), gender: gender, birth: birth,
                               name: surname + DemoNames.givenName(gender, &rng), rng: &rng)
            child.record.fatherID = father.idNumber
            child.record.motherID = mother.idNumber
            child.record.guardianIDs = guardian.map { [$0.idNumber] } ?? []
            child.record.householdID = householdID
            children.append(child)
        }

        // A few inactive people, for PERSON_INACTIVE demos.
        if index % 50 == 13 { father.record.status = .deceased }
        if index % 50 == 37 { mother.record.status = .cancelled }

        let districtName = Catalogues.beijingDistricts[district]!
        var address = "北京市" + districtName + rng.pick(DemoNames.streets) + String(Int.random(in: 1...299, using: &rng)) + "号"
        if rng.chance(0.7) {
            address += "院" + String(Int.random(in: 1...20, using: &rng)) + "号楼"
                + String(Int.random(in: 1...6, using: &rng)) + "单元"
                + String(Int.random(in: 1...24, using: &rng)) + padded(Int.random(in: 1...4, using: &rng), 2) + "室"
        }
        let landline: String? = rng.chance(0.4) ? "010-" + String(Int.random(in: 6...8, using: &rng)) + rng.digits(7) : nil
        let ethnicity = rng.weighted([("01", 90), ("03", 3), ("11", 3), ("02", 2), ("05", 1), ("10", 1)])

        return Family(index: index, district: district, householdID: householdID, address: address, landline: landline,
                      ethnicity: ethnicity, father: father, mother: mother, children: children, guardian: guardian)
    }

    /// The age band of a child, from their birth date.
    static func band(of birth: CivilDate) -> AgeBand? {
        AgeBand.allCases.first { $0.birthRange.contains(birth) }
    }

    /// Every child of families `0..<count`, first children of all families then second ones:
    /// the order the submission generator walks them in.
    package static func childRefs(families count: Int) -> [ChildRef] {
        var first: [ChildRef] = []
        var second: [ChildRef] = []
        for index in 0..<count {
            first.append(ChildRef(family: index, child: 0))
            if family(index).children.count > 1 { second.append(ChildRef(family: index, child: 1)) }
        }
        return first + second
    }

    package struct ChildRef: Sendable, Hashable {
        var family: Int
        var child: Int
    }

    // MARK: - Helpers

    private static func band(_ rng: inout DemoRandom) -> AgeBand {
        rng.weighted([(.underSeven, 35), (.school, 45), (.teen, 20)])
    }

    private static func yearRange(_ years: ClosedRange<Int>) -> ClosedRange<CivilDate> {
        CivilDate(year: years.lowerBound, month: 1, day: 1)!...CivilDate(year: years.upperBound, month: 12, day: 31)!
    }

    static func randomDate(in range: ClosedRange<CivilDate>, _ rng: inout DemoRandom) -> CivilDate {
        CivilDate(daysSinceEpoch: Int.random(in: range.lowerBound.daysSinceEpoch...range.upperBound.daysSinceEpoch, using: &rng))
    }

    static func mobile(_ rng: inout DemoRandom) -> String {
        "1" + rng.pick(["3", "5", "7", "8", "9"]) + rng.digits(9)
    }

    package static func padded(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }
}

extension CivilDate {
    /// The same month and day `years` later; 29 February becomes 28 February in common years.
    func addingYears(_ years: Int) -> CivilDate {
        CivilDate(year: year + years, month: month, day: day)
            ?? CivilDate(year: year + years, month: month, day: day - 1)!
    }
}

/// Names and streets for demo data.
enum DemoNames {
    static let surnames = [
        "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高",
        "林", "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧",
    ]
    static let maleChars = Array("伟强磊军洋勇杰涛明超浩宇轩然博文俊峰建国晨阳睿哲昊天泽")
    static let femaleChars = Array("芳娜敏静丽艳娟霞婷雪慧琳欣怡梓涵思雨诗佳悦可馨彤萱")
    static let streets = [
        "建国路", "学院路", "长安街", "永安里", "中关村大街", "方庄路", "金融大街", "望京街",
        "科创街", "良乡大街", "新华大街", "府前街", "兴华大街", "滨河路", "鼓楼大街", "平安大街",
    ]

    /// One or two given-name characters.
    static func givenName(_ gender: Gender, _ rng: inout DemoRandom) -> String {
        let chars = gender == .male ? maleChars : femaleChars
        return rng.chance(0.75) ? String([rng.pick(chars), rng.pick(chars)]) : String(rng.pick(chars))
    }

    /// Another name of the same length: one character changed (for IDENTITY_MISMATCH demos).
    static func misspelled(_ name: String, _ rng: inout DemoRandom) -> String {
        var chars = Array(name)
        let pool = maleChars + femaleChars
        var replacement = rng.pick(pool)
        while replacement == chars[chars.count - 1] { replacement = rng.pick(pool) }
        chars[chars.count - 1] = replacement
        return String(chars)
    }
}
