import Foundation
import JSONCodec
import Testing

@testable import CardDomain

/// `null` in an optional field means "not given", exactly like an absent member (issue 11,
/// item 9; case ow-12a). A required field that is null stays SCHEMA_INVALID.
@Suite("null in optional fields: the same as absent")
struct NullOptionalFieldTests {
    /// Reasons for the sample with `path` set to `value` (`nil` removes it).
    func codes(setting path: String, to value: JSONValue?, in tree: JSONValue = Fixtures.sample()) -> [String] {
        var tree = tree
        tree[path: path] = value
        return CardDomainTests.codes(tree)
    }

    @Test("applicant.landline: null and absent pass, a number is SCHEMA_INVALID, a bad string LANDLINE_INVALID")
    func landline() throws {
        #expect(codes(setting: "applicant.landline", to: .null) == [])
        #expect(codes(setting: "applicant.landline", to: nil) == [])
        #expect(codes(setting: "applicant.landline", to: 1012345678) == ["SCHEMA_INVALID@applicant.landline"])
        #expect(codes(setting: "applicant.landline", to: "12345") == ["LANDLINE_INVALID@applicant.landline"])
        var tree = Fixtures.sample()
        tree[path: "applicant.landline"] = .null
        let submission = try #require(parse(tree)?.submission)
        #expect(submission.applicant.landline == nil)
    }

    @Test("optional document slots: null is no document", arguments: ["applicant_change_page", "householder_change_page", "householder_page"])
    func optionalDocuments(_ slot: String) {
        #expect(codes(setting: "documents.\(slot)", to: .null) == [])
    }

    @Test("required document slots: null is DOCUMENT_MISSING, as absent, not also SCHEMA_INVALID")
    func requiredDocuments() {
        for path in ["documents.birth_certificate", "documents.photo", "agent.documents.id_front"] {
            #expect(codes(setting: path, to: .null) == ["DOCUMENT_MISSING@\(path)"], "\(path)")
            #expect(codes(setting: path, to: nil) == ["DOCUMENT_MISSING@\(path)"], "\(path)")
        }
        #expect(codes(setting: "documents.birth_certificate", to: 7) == ["SCHEMA_INVALID@documents.birth_certificate"])
    }

    @Test("household: ignored (null too) with a resident ID; with the household register null is as absent")
    func household() {
        #expect(codes(setting: "household", to: .null) == [])
        let register = Fixtures.householdRegister()
        let absent = codes(setting: "household", to: nil, in: register)
        #expect(absent.contains("HOUSEHOLD_ANSWERS_MISSING@household"))
        #expect(codes(setting: "household", to: .null, in: register) == absent)
        #expect(codes(setting: "household.same_booklet", to: .null, in: register) == codes(setting: "household.same_booklet", to: nil, in: register))
        #expect(codes(setting: "household.same_booklet", to: .null, in: register).allSatisfy { !$0.hasPrefix("SCHEMA_INVALID") })
        #expect(codes(setting: "household.same_booklet", to: "yes", in: register).contains("SCHEMA_INVALID@household.same_booklet"))
    }

    @Test("required fields stay required: null is SCHEMA_INVALID")
    func requiredStaysRequired() {
        #expect(codes(setting: "applicant.mobile", to: .null) == ["SCHEMA_INVALID@applicant.mobile"])
        #expect(codes(setting: "applicant.name", to: .null) == ["SCHEMA_INVALID@applicant.name"])
    }

    @Test("registry and bank events: null and absent read alike; a wrong type does not decode")
    func otherInputs() throws {
        let person = #"{"id_number":"110105201503070013","name":"代办二十五","gender":"male","birth_date":"2015-03-07","status":"active","#
        for tail in [#""father_id":null,"mother_id":null,"guardian_ids":null,"household_id":null,"is_householder":false}"#, #""is_householder":false}"#] {
            let decoded = try CardJSON.decode(RegistryPerson.self, from: Array((person + tail).utf8))
            #expect(decoded.fatherID == nil && decoded.motherID == nil && decoded.guardianIDs == [] && decoded.householdID == nil)
        }
        #expect(throws: (any Error).self) { try CardJSON.decode(RegistryPerson.self, from: Array((person + #""father_id":42,"is_householder":false}"#).utf8)) }
        let event = #"{"application_id":"a-1","order_id":"ORD-a-1","event":"accepted","at":"2026-11-25T10:15:00+08:00""#
        #expect(try CardJSON.decode(BankEvent.self, from: Array((event + #","reason":null}"#).utf8)).reason == nil)
        #expect(try CardJSON.decode(BankEvent.self, from: Array((event + "}").utf8)).reason == nil)
        #expect(throws: (any Error).self) { try CardJSON.decode(BankEvent.self, from: Array((event + #","reason":7}"#).utf8)) }
    }
}

/// A number whose birth date is after `submitted_at` names no one: ID_NUMBER_INVALID at
/// intake (issue 11, item 10; case ow-13). The sample is submitted on 2026-11-25.
@Suite("ID numbers of people not born yet")
struct FutureBirthTests {
    @Test("applicant born tomorrow: ID_NUMBER_INVALID, and nothing derived from the number")
    func applicantTomorrow() {
        #expect(codes(Fixtures.applicant(born: "2026-11-26")) == ["ID_NUMBER_INVALID@applicant.id_number"])
        #expect(codes(Fixtures.applicant(born: "2027-01-01", submittedAt: "2026-11-25T23:59:59.9999999+08:00"))
            == ["ID_NUMBER_INVALID@applicant.id_number"])
    }

    @Test("applicant born today (age 0) is born")
    func applicantToday() {
        #expect(!codes(Fixtures.applicant(born: "2026-11-25")).contains("ID_NUMBER_INVALID@applicant.id_number"))
        // Born on the 25th in Beijing, submitted at 16:30Z on the 24th (already the 25th there).
        #expect(!codes(Fixtures.applicant(born: "2026-11-25", submittedAt: "2026-11-24T16:30:00Z")).contains("ID_NUMBER_INVALID@applicant.id_number"))
        #expect(codes(Fixtures.applicant(born: "2026-11-25", submittedAt: "2026-11-24T15:59:59Z")) == ["ID_NUMBER_INVALID@applicant.id_number"])
    }

    @Test("agent born in the future: ID_NUMBER_INVALID, not AGENT_NOT_ADULT")
    func agent() {
        var tree = Fixtures.sample()
        tree[path: "agent.id_number"] = .string(Fixtures.id(born: "2030-01-01", .female))
        #expect(codes(tree) == ["ID_NUMBER_INVALID@agent.id_number"])
    }

    @Test("applicant.birth_date in the future beside a real number: ID_BIRTH_DATE_MISMATCH")
    func statedBirthDate() {
        var tree = Fixtures.sample()
        tree[path: "applicant.birth_date"] = "2027-03-07"
        #expect(codes(tree) == ["ID_BIRTH_DATE_MISMATCH@applicant.birth_date"])
    }

    @Test("IDNumber.namesNoOneBornBy: the day after birth is born, the day before is not, unknown today is no verdict")
    func predicate() throws {
        let number = try #require(IDNumber(Fixtures.id(born: "2026-11-25", .male)))
        #expect(!number.namesNoOneBornBy(CivilDate("2026-11-25")))
        #expect(number.namesNoOneBornBy(CivilDate("2026-11-24")))
        #expect(!number.namesNoOneBornBy(nil))
    }
}
