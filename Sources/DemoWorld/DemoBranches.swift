import CardDomain

/// Deterministic demo branches for `bank.branches`: every one of the 15 banks in every one of
/// Beijing's 16 districts.
///
/// The model, which the submission generator and the worker tests rely on. With `b` the
/// bank's position in `Bank.allCases` and `d` the district's in ``DemoFamilies/districts``,
/// and `s = 7b + 3d`:
/// - `<BANK>-<DDDD>-01` (`BOB-0105-01`, DDDD = the district code's last four digits) always
///   exists, is open and serves minors: ``openMinorsBranch(bank:district:)`` returns it.
/// - `-02` exists when `s` is even: closed when `s % 6 == 0`, open but not serving minors
///   when `s % 6 == 2`, open and serving minors when `s % 6 == 4`. Every district has
///   banks of each kind.
/// - `-03` exists when `s % 5 == 1`, open and serving minors.
package enum DemoBranches {
    /// Every demo branch, by bank then district then number.
    package static let all: [Branch] = {
        var branches: [Branch] = []
        for (b, bank) in Bank.allCases.enumerated() {
            for (d, district) in DemoFamilies.districts.enumerated() {
                let s = 7 * b + 3 * d
                branches.append(make(bank, district, number: 1, open: true, servesMinors: true))
                if s % 2 == 0 {
                    branches.append(make(bank, district, number: 2, open: s % 6 != 0, servesMinors: s % 6 != 2))
                }
                if s % 5 == 1 {
                    branches.append(make(bank, district, number: 3, open: true, servesMinors: true))
                }
            }
        }
        return branches
    }()

    private static let byKey: [String: Branch] = Dictionary(uniqueKeysWithValues: all.map { ($0.key, $0) })

    /// The branch with this code of this bank, if the demo has it.
    static func branch(bank: Bank, code: String) -> Branch? { byKey[Branch.key(bank: bank.rawValue, branch: code)] }

    /// `<BANK>-<DDDD>-<NN>`.
    static func code(_ bank: Bank, district: String, number: Int) -> String {
        bank.rawValue + "-" + district.suffix(4) + "-" + DemoFamilies.padded(number, 2)
    }

    /// An open branch that serves minors for `bank` in `district`: always `-01`.
    static func openMinorsBranch(bank: Bank, district: String) -> Branch {
        byKey[Branch.key(bank: bank.rawValue, branch: code(bank, district: district, number: 1))]
            ?? make(bank, district, number: 1, open: true, servesMinors: true)
    }

    /// Every open, minors-serving branch of `bank` in `district` (one to three).
    static func openMinorsBranches(bank: Bank, district: String) -> [Branch] {
        all.filter { $0.bank == bank.rawValue && $0.district == district && $0.open && $0.servesMinors }
    }

    /// The closed branches in `district` (of any bank).
    static func closedBranches(district: String) -> [Branch] {
        all.filter { $0.district == district && !$0.open }
    }

    /// The open branches in `district` that do not serve minors (of any bank).
    static func noMinorsBranches(district: String) -> [Branch] {
        all.filter { $0.district == district && $0.open && !$0.servesMinors }
    }

    private static func make(_ bank: Bank, _ district: String, number: Int, open: Bool, servesMinors: Bool) -> Branch {
        let districtName = Catalogues.beijingDistricts[district] ?? district
        let area = String(districtName.dropLast())  // 朝阳区 → 朝阳
        let ordinal = ["一", "二", "三", "四"][min(number, 4) - 1]
        var rng = DemoRandom(salt: DemoRandom.hash(bank.rawValue + district), index: number)
        let street = rng.pick(DemoNames.streets)
        return Branch(
            bank: bank.rawValue, branch: code(bank, district: district, number: number),
            name: bank.chineseName + "北京" + area + "第" + ordinal + "支行",
            district: district,
            address: "北京市" + districtName + street + String(Int.random(in: 1...199, using: &rng)) + "号",
            open: open, servesMinors: servesMinors)
    }
}
