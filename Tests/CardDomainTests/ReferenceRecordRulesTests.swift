import Foundation
import JSONCodec
import Testing

@testable import CardDomain

/// Reference records that break their schema: normalised when unambiguous, else rejected
/// with a masked cause (issue 11, item 8; case ow-10).
@Suite("Reference records: registry.persons and bank.branches")
struct ReferenceRecordRulesTests {
    static let today = CivilDate("2026-11-25")!
    // Check character X in both (GB 11643): the lower-case spelling is the feed's fault.
    static let child = "11010520150307003X"
    static let mother = "11010519850307006X"

    static func record(id: String = child, name: String = "冯小北", birth: String = "2015-03-07",
                       father: String = "null", mother: String = "\"\(mother)\"", guardians: String = "[]") -> [UInt8] {
        Array(#"{"id_number":"\#(id)","name":"\#(name)","gender":"male","birth_date":"\#(birth)","status":"active","father_id":\#(father),"mother_id":\#(mother),"guardian_ids":\#(guardians),"household_id":"H1","is_householder":false}"#.utf8)
    }

    func read(key: String?, _ value: [UInt8]?) -> ReferenceRecordVerdict<RegistryPerson> {
        RegistryRecordRules.read(key: key.map { Array($0.utf8) }, value: value, today: Self.today)
    }

    @Test("lower-case x in id_number, mother_id, father_id, guardian_ids and the key: stored as X, with a note each")
    func lowerCaseX() throws {
        let lower = Self.child.lowercased(), lowerMother = Self.mother.lowercased()
        let verdict = read(key: lower, Self.record(id: lower, father: "\"\(lowerMother)\"", mother: "\"\(lowerMother)\"", guardians: "[\"\(lowerMother)\"]"))
        guard case .store(let key, let person, let notes) = verdict else { Issue.record("expected stored, got \(verdict)"); return }
        #expect(key == Self.child && person.idNumber == Self.child)
        #expect(person.motherID == Self.mother && person.fatherID == Self.mother && person.guardianIDs == [Self.mother])
        #expect(notes.count == 5)
        #expect(notes.allSatisfy { !$0.contains(Self.child) && !$0.contains(Self.mother) && !$0.contains(lower) }, "notes are masked")
        #expect(notes.first == "key 110105********003X written with lower-case x, read as X")
    }

    @Test("a well-formed record is stored as it is, without notes")
    func clean() {
        #expect(read(key: Self.child, Self.record()) == .store(key: Self.child, record: try! CardJSON.decode(RegistryPerson.self, from: Self.record()), notes: []))
        #expect(read(key: nil, Self.record()).notes == [], "no key (Apache Kafka refuses it on a compacted topic): the payload's id")
    }

    @Test("rejected, with a masked cause: bad check character, wrong length, bad parent id, key disagreeing")
    func rejected() {
        let wrongCheck = String(Self.child.dropLast()) + "5"
        let cases: [(String?, [UInt8], String)] = [
            (wrongCheck, Self.record(id: wrongCheck), "id_number 110105********0035 is not a GB 11643 citizen number"),
            (nil, Self.record(id: "1101052015030700"), "id_number"),
            (Self.child, Self.record(mother: "\"110105198503070061\""), "mother_id 110105********0061 is not a GB 11643 citizen number"),
            (Self.child, Self.record(guardians: "[\"abc\"]"), "guardian_ids"),
            (Self.mother, Self.record(), "key 110105********006X disagrees with id_number 110105********003X"),
            (Self.child, Self.record(name: " "), "name of 110105********003X is empty"),
            (Self.child, Array(#"{"id_number":"11010520150307003X"}"#.utf8), "not a registry.persons record: name missing or of the wrong type"),
            (Self.child, Array("not json".utf8), "not a registry.persons record (8 bytes)"),
        ]
        for (key, value, expected) in cases {
            guard case .reject(let cause) = read(key: key, value) else { Issue.record("not rejected: \(expected)"); continue }
            #expect(cause.hasPrefix(expected), "\(cause)")
            #expect(!cause.contains(Self.child) && !cause.contains(Self.mother), "unmasked id in \(cause)")
        }
    }

    @Test("no one born yet: a number or birth_date after today is rejected; born today is kept")
    func futureBirth() throws {
        let tomorrow = IDNumber.make(region: "110105", birthDate: CivilDate("2026-11-26")!, gender: .male)!.rawValue
        guard case .reject(let cause) = read(key: tomorrow, Self.record(id: tomorrow, birth: "2026-11-26")) else { Issue.record("kept"); return }
        #expect(cause.contains("born after 2026-11-25"))
        guard case .reject = read(key: Self.child, Self.record(birth: "2027-01-01")) else { Issue.record("kept a future birth_date"); return }
        let today = IDNumber.make(region: "110105", birthDate: Self.today, gender: .male)!.rawValue
        guard case .store = read(key: today, Self.record(id: today, birth: "2026-11-25")) else { Issue.record("rejected a baby born today"); return }
    }

    @Test("tombstones: removed by their (normalised) key; without a key there is nothing to remove")
    func tombstones() {
        #expect(read(key: Self.child.lowercased(), nil) == .remove(key: Self.child, notes: ["key 110105********003X written with lower-case x, read as X"]))
        #expect(read(key: Self.child, nil) == .remove(key: Self.child, notes: []))
        guard case .reject = read(key: nil, nil) else { Issue.record("key-less tombstone accepted"); return }
    }

    @Test("normalizedIDNumber touches only a final x after 17 digits")
    func normalizedIDNumber() {
        #expect(RegistryRecordRules.normalizedIDNumber("11010520150307003x") == "11010520150307003X")
        #expect(RegistryRecordRules.normalizedIDNumber("1101052015030700x3") == "1101052015030700x3")
        #expect(RegistryRecordRules.normalizedIDNumber("x") == "x")
    }

    @Test("bank.branches: key must be bank/branch; tombstone needs a key; a missing field is rejected")
    func branches() {
        let value = Array(#"{"bank":"BOB","branch":"BOB-0105-01","name":"北京银行朝阳支行","district":"110105","address":"建国路1号","open":true,"serves_minors":true}"#.utf8)
        guard case .store(let key, _, _) = BranchRecordRules.read(key: Array("BOB/BOB-0105-01".utf8), value: value) else { Issue.record("not stored"); return }
        #expect(key == "BOB/BOB-0105-01")
        guard case .reject(let cause) = BranchRecordRules.read(key: Array("ICBC/BOB-0105-01".utf8), value: value) else { Issue.record("key ignored"); return }
        #expect(cause.contains("disagrees"))
        #expect(BranchRecordRules.read(key: Array("BOB/BOB-0105-01".utf8), value: nil) == .remove(key: "BOB/BOB-0105-01", notes: []))
        guard case .reject = BranchRecordRules.read(key: nil, value: nil) else { Issue.record("key-less tombstone accepted"); return }
        guard case .reject(let missing) = BranchRecordRules.read(key: nil, value: Array(#"{"bank":"BOB","branch":"B"}"#.utf8)) else { Issue.record("partial branch kept"); return }
        #expect(missing.contains("missing or of the wrong type"))
    }
}
