import Foundation
import Testing

@testable import CardDomain

/// Names compared under one normalisation, printed as the registry holds them (issue 11,
/// item 7; case ow-09a).
@Suite("Names: middle-dot look-alikes, NFKC, white space")
struct PersonNameTests {
    static let registered = "阿依古丽\u{00B7}吐尔逊"

    static let lookAlikes: [UInt32] = [0x00B7, 0x0387, 0x2022, 0x2027, 0x2219, 0x22C5, 0x25CF, 0x30FB, 0xFF65,
                                       0x2E31, 0x2E33, 0x16EB, 0x2981, 0x1427, 0x002E, 0xFF0E, 0x2024]

    @Test("each look-alike dot compares equal to U+00B7", arguments: lookAlikes)
    func lookAlike(_ code: UInt32) {
        let dot = String(Character(Unicode.Scalar(code)!))
        let submitted = "阿依古丽" + dot + "吐尔逊"
        #expect(PersonName.normalized(submitted) == Self.registered, "U+\(String(code, radix: 16, uppercase: true))")
        #expect(IdentityRules.sameName(Self.registered, submitted))
    }

    @Test("not every dot-like mark is a separator: a comma, a hyphen or a missing dot still differ")
    func notSeparators() {
        for other in ["阿依古丽,吐尔逊", "阿依古丽-吐尔逊", "阿依古丽吐尔逊", "阿依古丽·吐尔"] {
            #expect(!PersonName.same(Self.registered, other), "\(other)")
        }
    }

    @Test("white space: trimmed at both ends, dropped beside a dot, runs inside collapse to one space")
    func whiteSpace() {
        #expect(PersonName.normalized("\u{3000} 阿依古丽 \u{2022} 吐尔逊\u{00A0}\n") == Self.registered)
        #expect(PersonName.normalized("张\u{200B}三") == "张三", "zero-width space is invisible")
        #expect(PersonName.normalized("Anna  \u{3000}Li") == "Anna Li")
        #expect(!PersonName.same("张三", "张 三"), "a space inside a Chinese name is not nothing")
    }

    @Test("NFKC: full-width letters and compatibility ideographs compare as their plain forms")
    func compatibilityForms() {
        #expect(PersonName.same("ＡＮＮＡ", "ANNA"))
        #expect(PersonName.same("\u{F900}", "\u{8C48}"), "CJK COMPATIBILITY IDEOGRAPH-F900 is 豈")
        #expect(!PersonName.same("anna", "ANNA"), "case is kept")
    }

    @Test("identity: a look-alike in the agent's or the applicant's name is no IDENTITY_MISMATCH")
    func identityRules() throws {
        let submission = try #require(parse(Fixtures.sample())?.submission)
        let agent = RegistryPerson(idNumber: Fixtures.agentID, name: "张\u{00B7}三", gender: .female,
                                   birthDate: CivilDate("1985-03-07")!)
        let child = RegistryPerson(idNumber: Fixtures.applicantID, name: "代办\u{00B7}二十五", gender: .male,
                                   birthDate: CivilDate("2015-03-07")!, motherID: Fixtures.agentID)
        var lookAlike = submission
        lookAlike.agent.name = "张\u{FF65}三"
        lookAlike.applicant.name = "代办\u{2E31}二十五 "
        #expect(IdentityRules.check(lookAlike, agent: agent, applicant: child) == .verified(.motherSon))
        lookAlike.applicant.name = "代办二十五"
        #expect(IdentityRules.check(lookAlike, agent: agent, applicant: child).reasons.map(\.field) == ["applicant.name"])
    }

    @Test("the order prints the registry's spelling, not the portal's look-alike")
    func orderPrintsRegisteredName() throws {
        var submission = try #require(parse(Fixtures.sample())?.submission)
        submission.applicant.name = "代办\u{2022}二十五"
        submission.agent.name = "张\u{30FB}三"
        let at = Timestamp(rfc3339: "2026-11-25T10:15:00+08:00")!
        let order = CardOrder(submission: submission, orderedAt: at,
                              registeredNames: RegisteredNames(agent: "张\u{00B7}三", applicant: "代办\u{00B7}二十五"))
        #expect(order.cardholder.name == "代办\u{00B7}二十五")
        #expect(order.agent.name == "张\u{00B7}三")
        #expect(CardOrder(submission: submission, orderedAt: at).cardholder.name == "代办\u{2022}二十五", "without registry names: as submitted")
    }

    @Test("the NFKC shortcut only skips names NFKC leaves unchanged")
    func nfkcShortcut() {
        // Every scalar the shortcut accepts, in runs, is its own NFKC form.
        var samples: [String] = ["王小明", "阿依古丽·吐尔逊", "Zhang San", "㐀䶿一鿿", String((0x20...0x7E).map { Character(Unicode.Scalar($0)!) })]
        samples += (Array(stride(from: 0x3400, through: 0x4DBF, by: 53)) + Array(stride(from: 0x4E00, through: 0x9FFF, by: 97))).map { String(Character(Unicode.Scalar($0)!)) + "a·" }
        for name in samples {
            #expect(PersonName.isNFKCStable(name), "\(name)")
            #expect(name.precomposedStringWithCompatibilityMapping.unicodeScalars.elementsEqual(name.unicodeScalars), "\(name)")
        }
        // What NFKC changes never takes the shortcut: full-width letters, compatibility ideographs,
        // combining marks, the ideographic space, Greek ano teleia.
        for name in ["Ｚｈａｎｇ", "\u{F900}", "e\u{0301}", "王\u{3000}明", "a\u{0387}b", "\u{00A0}"] {
            #expect(!PersonName.isNFKCStable(name), "\(name)")
        }
        #expect(PersonName.normalized("Ｚｈａｎｇ\u{3000}San") == "Zhang San")
    }
}
