import Foundation
import JSONCodec
import Testing

@testable import CardDomain

@Suite("Intake: consents, contact details, catalogues, household, card")
struct IntakeFieldRulesTests {
    /// The reasons after setting one field of the sample.
    private func codes(setting path: String, to value: JSONValue?) -> [String] {
        var tree = Fixtures.sample()
        tree[path: path] = value
        return CardDomainTests.codes(tree)
    }

    // MARK: - CONSENT_MISSING

    @Test("CONSENT_MISSING for each consent that is false", arguments: ["disclaimer", "commitment", "data_authorization"])
    func consentFalse(_ name: String) {
        #expect(codes(setting: "consents." + name, to: false) == ["CONSENT_MISSING@consents.\(name)"])
        #expect(codes(setting: "consents." + name, to: true) == [])
    }

    @Test("a consent that is absent or not a boolean is not given: SCHEMA_INVALID and CONSENT_MISSING")
    func consentAbsentOrMistyped() {
        #expect(codes(setting: "consents.commitment", to: nil)
            == ["SCHEMA_INVALID@consents.commitment", "CONSENT_MISSING@consents.commitment"])
        #expect(codes(setting: "consents.commitment", to: "true")
            == ["SCHEMA_INVALID@consents.commitment", "CONSENT_MISSING@consents.commitment"])
        #expect(codes(setting: "consents", to: nil) == [
            "SCHEMA_INVALID@consents", "CONSENT_MISSING@consents.disclaimer",
            "CONSENT_MISSING@consents.commitment", "CONSENT_MISSING@consents.data_authorization",
        ])
    }

    // MARK: - PICKUP_METHOD_NOT_SUPPORTED

    @Test("PICKUP_METHOD_NOT_SUPPORTED for anything but agent_branch_pickup")
    func pickup() {
        #expect(codes(setting: "card.pickup", to: "home_delivery") == ["PICKUP_METHOD_NOT_SUPPORTED@card.pickup"])
        #expect(codes(setting: "card.pickup", to: "agent_branch_pickup") == [])
    }

    // MARK: - MOBILE_INVALID

    @Test("MOBILE_INVALID at the mobile of the person concerned", arguments: [
        ("13412342458", true), ("19912345678", true), ("15000000000", true),
        ("12345678901", false), ("1341234245", false), ("134123424580", false), ("+8613412342458", false),
        ("134-1234-2458", false), ("", false), ("1341234245a", false),
    ])
    func mobile(_ number: String, _ valid: Bool) {
        #expect(codes(setting: "agent.mobile", to: .string(number)) == (valid ? [] : ["MOBILE_INVALID@agent.mobile"]))
        #expect(codes(setting: "applicant.mobile", to: .string(number)) == (valid ? [] : ["MOBILE_INVALID@applicant.mobile"]))
    }

    // MARK: - LANDLINE_INVALID

    @Test("LANDLINE_INVALID only when present and malformed", arguments: [
        ("010-12345678", true), ("010-1234567", true), ("0755-1234567", true), ("0755-12345678", true),
        ("010-123456", false), ("10-12345678", false), ("01012345678", false), ("010-123456789", false),
        ("01-12345678", false), ("01000-1234567", false), ("010 12345678", false), ("", false),
    ])
    func landline(_ number: String, _ valid: Bool) {
        #expect(codes(setting: "applicant.landline", to: .string(number)) == (valid ? [] : ["LANDLINE_INVALID@applicant.landline"]))
    }

    @Test("no landline (absent or null) is fine; a landline that is not a string or null is a schema error")
    func landlineAbsentOrMistyped() {
        #expect(codes(setting: "applicant.landline", to: nil) == [])
        #expect(codes(setting: "applicant.landline", to: 1_012_345_678) == ["SCHEMA_INVALID@applicant.landline"])
        #expect(codes(setting: "applicant.landline", to: .null) == [])
    }

    // MARK: - DISTRICT_INVALID

    @Test("DISTRICT_INVALID: Beijing's 16 districts pass", arguments: [
        "110101", "110102", "110105", "110106", "110107", "110108", "110109", "110111",
        "110112", "110113", "110114", "110115", "110116", "110117", "110118", "110119",
    ])
    func districtValid(_ code: String) {
        #expect(codes(setting: "applicant.district", to: .string(code)) == [])
    }

    @Test("DISTRICT_INVALID: anything else fails", arguments: ["110100", "110103", "110104", "110110", "110120", "310101", "110229", "", "朝阳区"])
    func districtInvalid(_ code: String) {
        #expect(codes(setting: "applicant.district", to: .string(code)) == ["DISTRICT_INVALID@applicant.district"])
    }

    // MARK: - ADDRESS_NOT_PRECISE

    @Test("ADDRESS_NOT_PRECISE without a digit run followed by 号", arguments: [
        ("北京市朝阳区永安里20号", true), ("北京市海淀区中关村南大街5号院3号楼2单元401", true), ("永安里２０号", true),
        ("北京市朝阳区永安里", false), ("永安里二十号", false), ("永安里20 号", false), ("永安里号20", false), ("", false),
    ])
    func address(_ text: String, _ precise: Bool) {
        #expect(codes(setting: "applicant.address", to: .string(text)) == (precise ? [] : ["ADDRESS_NOT_PRECISE@applicant.address"]))
    }

    // MARK: - NATIONALITY_NOT_SUPPORTED

    @Test("NATIONALITY_NOT_SUPPORTED unless CHN")
    func nationality() {
        #expect(codes(setting: "applicant.nationality", to: "CHN") == [])
        for other in ["HKG", "chn", "CN", ""] {
            #expect(codes(setting: "applicant.nationality", to: .string(other)) == ["NATIONALITY_NOT_SUPPORTED@applicant.nationality"])
        }
    }

    // MARK: - ETHNICITY_INVALID

    @Test("ETHNICITY_INVALID outside 01…56")
    func ethnicity() {
        for code in ["01", "03", "56"] {
            #expect(codes(setting: "applicant.ethnicity", to: .string(code)) == [], "\(code)")
        }
        for code in ["00", "57", "1", "001", "汉族", ""] {
            #expect(codes(setting: "applicant.ethnicity", to: .string(code)) == ["ETHNICITY_INVALID@applicant.ethnicity"], "\(code)")
        }
        #expect(Catalogues.ethnicityName("01") == "汉族")
        #expect(Catalogues.ethnicityName("56") == "基诺族")
        #expect(Catalogues.ethnicities.count == 56)
    }

    // MARK: - OCCUPATION_INVALID

    @Test("OCCUPATION_INVALID outside the catalogue")
    func occupation() {
        for code in ["student", "preschool", "other", "1", "2", "3", "4", "5", "6", "7", "8"] {
            #expect(codes(setting: "applicant.occupation", to: .string(code)) == [], "\(code)")
        }
        for code in ["0", "9", "10", "Student", "teacher", "2-01", ""] {
            #expect(codes(setting: "applicant.occupation", to: .string(code)) == ["OCCUPATION_INVALID@applicant.occupation"], "\(code)")
        }
    }

    // MARK: - HOUSEHOLD_ANSWERS_MISSING

    @Test("HOUSEHOLD_ANSWERS_MISSING when either answer is absent with the household register")
    func householdAnswers() {
        var tree = Fixtures.householdRegister()
        tree[path: "household.same_booklet"] = nil
        // Without the answer the birth certificate cannot be waived or required: not reported.
        #expect(CardDomainTests.codes(tree) == ["HOUSEHOLD_ANSWERS_MISSING@household"])

        tree = Fixtures.householdRegister()
        tree[path: "household"] = nil
        #expect(CardDomainTests.codes(tree) == ["SCHEMA_INVALID@household", "HOUSEHOLD_ANSWERS_MISSING@household"])

        tree = Fixtures.householdRegister()
        tree[path: "household.agent_is_householder"] = "yes"
        #expect(CardDomainTests.codes(tree)
            == ["SCHEMA_INVALID@household.agent_is_householder", "HOUSEHOLD_ANSWERS_MISSING@household"])
    }

    @Test("household is ignored with a resident ID, even missing or malformed")
    func householdIgnored() throws {
        #expect(codes(setting: "household", to: nil) == [])
        #expect(codes(setting: "household", to: "whatever") == [])
        var tree = Fixtures.sample()
        tree[path: "household"] = ["same_booklet": "maybe"]
        let parsed = try #require(parse(tree))
        #expect(parsed.isAccepted)
        #expect(parsed.accepted?.household == nil)
    }

    // MARK: - BANK_UNKNOWN

    @Test("BANK_UNKNOWN outside the 15 banks")
    func bank() {
        for bank in Bank.allCases {
            #expect(codes(setting: "card.bank", to: .string(bank.rawValue)) == [], "\(bank)")
        }
        for code in ["BOBX", "bob", "HSBC", ""] {
            #expect(codes(setting: "card.bank", to: .string(code)) == ["BANK_UNKNOWN@card.bank"], "\(code)")
        }
        #expect(Bank.allCases.count == 15)
        #expect(Bank.brcb.chineseName == "北京农商银行")
        #expect(Bank.psbc.chineseName == "邮政储蓄银行")
    }
}
