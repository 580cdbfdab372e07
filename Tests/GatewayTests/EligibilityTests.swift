import CardDomain
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import JSONCodec
import Testing

@Suite("POST /v1/eligibility (资格校验)")
struct EligibilityTests {
    @Test("a ten-year-old whose mother asks: eligible, mother/母子 from the registry, both ID types, no default photo, documents per ID type")
    func eligibleChild() async throws {
        let gateway = GatewayUnderTest()
        let family = TestFamily(serial: 1, age: 10)
        gateway.add(family)
        try await gateway.test { client in
            let response = try await client.call(.post, "/v1/eligibility", body: family.eligibilityBody())
            #expect(response.status == .ok)
            let body = try #require(response.json)
            #expect(body["eligible"] == true)
            #expect(body["reasons"] == [])
            #expect(body["relationship"]?["code"] == "mother")
            #expect(body["relationship"]?["label"] == "母子")
            #expect(body["age"] == 10)
            #expect(body["id_types_allowed"] == ["resident_id", "household_register"])
            #expect(body["default_photo_allowed"] == false)
            #expect(body["production_days"] == 30)
            // The mother heads the child's household: the householder's own page, no birth certificate.
            #expect(body["household"]?["agent_is_householder"] == true)
            #expect(body["household"]?["same_booklet"] == true)
            #expect(body["documents_required"]?["resident_id"] == [
                "agent.documents.id_front", "agent.documents.id_back", "documents.photo", "documents.id_front",
                "documents.id_back", "documents.birth_certificate"])
            #expect(body["documents_required"]?["household_register"] == [
                "agent.documents.id_front", "agent.documents.id_back", "documents.photo", "documents.householder_page",
                "documents.applicant_page", "documents.householder_own_page"])
        }
    }

    @Test("under 7 the default photo is allowed; at 16 the household register is not (ID_TYPE_NOT_ALLOWED), at 18 nothing is")
    func ageRules() async throws {
        let gateway = GatewayUnderTest()
        let small = TestFamily(serial: 2, age: 5), sixteen = TestFamily(serial: 3, age: 16), adult = TestFamily(serial: 4, age: 18)
        [small, sixteen, adult].forEach(gateway.add)
        try await gateway.test { client in
            let five = try #require(try await client.call(.post, "/v1/eligibility", body: small.eligibilityBody()).json)
            #expect(five["eligible"] == true)
            #expect(five["default_photo_allowed"] == true)

            let household = try await client.call(.post, "/v1/eligibility", body: sixteen.eligibilityBody(idType: "household_register"))
            #expect(household.json?["eligible"] == false)
            #expect(household.reasonCodes == ["ID_TYPE_NOT_ALLOWED"])
            #expect(household.json?["reasons"]?[0]?["message"] == .string(ReasonMessages.message(for: .idTypeNotAllowed, field: "applicant.id_type")))
            #expect(household.json?["id_types_allowed"] == ["resident_id"])
            #expect(household.json?["documents_required"]?["household_register"] == nil)
            #expect(try await client.call(.post, "/v1/eligibility", body: sixteen.eligibilityBody()).json?["eligible"] == true)

            let grown = try await client.call(.post, "/v1/eligibility", body: adult.eligibilityBody())
            #expect(grown.reasonCodes == ["APPLICANT_NOT_MINOR"])
            #expect(grown.json?["id_types_allowed"] == [])
        }
    }

    @Test("without 访问授权 the request is refused with CONSENT_MISSING, whatever else it says")
    func consentMissing() async throws {
        let gateway = GatewayUnderTest()
        let family = TestFamily(serial: 5)
        gateway.add(family)
        try await gateway.test { client in
            for consent in [false, .null, "true"] as [JSONValue] {
                let response = try await client.call(.post, "/v1/eligibility", body: family.eligibilityBody(consent: consent))
                #expect(response.status == .unprocessableContent)
                #expect(response.json?["code"] == "CONSENT_MISSING")
                #expect(response.json?["message"] == "请授权使用所提交的信息办理社会保障卡")
                #expect(response.json?["reasons"]?[0]?["field"] == "consents.data_authorization")
            }
            let none = try await client.call(.post, "/v1/eligibility", body: #"{"applicant": {}}"#)
            #expect(none.json?["code"] == "CONSENT_MISSING")
        }
    }

    @Test("registry reasons: unknown child and agent, inactive child, a name that differs, a tie the registry does not record")
    func registryReasons() async throws {
        let gateway = GatewayUnderTest()
        let inactive = TestFamily(serial: 6, childStatus: .deceased)
        let unrelated = TestFamily(serial: 7, motherRecorded: false)
        let unknown = TestFamily(serial: 8)
        [inactive, unrelated].forEach(gateway.add)
        try await gateway.test { client in
            let missing = try await client.call(.post, "/v1/eligibility", body: unknown.eligibilityBody())
            #expect(missing.status == .ok)
            #expect(missing.json?["eligible"] == false)
            #expect(missing.reasonCodes == ["PERSON_NOT_FOUND", "PERSON_NOT_FOUND"])
            #expect(missing.json?["relationship"] == .null)

            #expect(try await client.call(.post, "/v1/eligibility", body: inactive.eligibilityBody()).reasonCodes == ["PERSON_INACTIVE"])

            let notConfirmed = try await client.call(.post, "/v1/eligibility", body: unrelated.eligibilityBody())
            #expect(notConfirmed.reasonCodes == ["RELATIONSHIP_NOT_CONFIRMED"])
            #expect(notConfirmed.json?["relationship"] == .null)
            // Another family's mother asking for this child: also not confirmed.
            let stranger = try await client.call(.post, "/v1/eligibility", body: inactive.eligibilityBody(agent: unrelated.mother.idNumber))
            #expect(stranger.reasonCodes.contains("RELATIONSHIP_NOT_CONFIRMED"))

            let renamed = try await client.call(.post, "/v1/eligibility", body: unrelated.eligibilityBody(name: "李四"))
            #expect(renamed.reasonCodes == ["IDENTITY_MISMATCH", "RELATIONSHIP_NOT_CONFIRMED"])
        }
    }

    @Test("an active application stops the child (DUPLICATE_ACTIVE_APPLICATION) until it is rejected")
    func activeApplication() async throws {
        let gateway = GatewayUnderTest()
        let family = TestFamily(serial: 9)
        gateway.add(family)
        // Another portal's submission, as the feeder reads it from card.submission.
        gateway.views.apply(topic: GatewayTopics.submission, key: Array(family.child.idNumber.utf8),
                            value: Array(family.submission(id: "mins-active-1", channel: "minsheng").utf8), today: fixedToday)
        try await gateway.test { client in
            let first = try await client.call(.post, "/v1/eligibility", body: family.eligibilityBody())
            #expect(first.reasonCodes == ["DUPLICATE_ACTIVE_APPLICATION"])
            gateway.status("mins-active-1", .received, seq: 1)
            gateway.status("mins-active-1", .identityVerified, seq: 2)
            #expect(try await client.call(.post, "/v1/eligibility", body: family.eligibilityBody()).reasonCodes == ["DUPLICATE_ACTIVE_APPLICATION"])
            gateway.status("mins-active-1", .rejected, seq: 3, reasons: [Reason(code: .branchClosed, field: "card.branch")])
            #expect(try await client.call(.post, "/v1/eligibility", body: family.eligibilityBody()).json?["eligible"] == true)
        }
    }

    @Test("malformed requests: not JSON is 400; missing fields and an unknown ID type are 422 SCHEMA_INVALID at their paths; bad numbers are ID_NUMBER_INVALID")
    func malformed() async throws {
        let gateway = GatewayUnderTest()
        let family = TestFamily(serial: 10)
        gateway.add(family)
        try await gateway.test { client in
            let notJSON = try await client.call(.post, "/v1/eligibility", body: "{oops")
            #expect(notJSON.status == .badRequest)
            #expect(notJSON.json?["code"] == "SCHEMA_INVALID")

            let partial = try await client.call(.post, "/v1/eligibility", body:
                #"{"applicant": {"name": "", "id_type": "passport"}, "consents": {"data_authorization": true}}"#)
            #expect(partial.status == .unprocessableContent)
            #expect(partial.json?["code"] == "SCHEMA_INVALID")
            let fields = partial.json?["reasons"]?.arrayValue?.compactMap { $0["field"]?.stringValue }
            #expect(fields == ["applicant.name", "applicant.id_type", "applicant.id_number", "agent.id_number"])

            let wrongCheck = String(family.mother.idNumber.dropLast()) + (family.mother.idNumber.last == "0" ? "1" : "0")
            let badNumber = try await client.call(.post, "/v1/eligibility", body: family.eligibilityBody(agent: wrongCheck))
            #expect(badNumber.status == .ok)
            #expect(badNumber.reasonCodes == ["ID_NUMBER_INVALID"])
            #expect(badNumber.json?["reasons"]?[0]?["field"] == "agent.id_number")
        }
    }

    @Test("log lines name the child by masked number only; errors never quote a value")
    func masking() async throws {
        let gateway = GatewayUnderTest()
        let family = TestFamily(serial: 11)
        gateway.add(family)
        try await gateway.test { client in
            let answer = try await client.call(.post, "/v1/eligibility", body: family.eligibilityBody(name: "李四"))
            #expect(!answer.text.contains(family.child.idNumber) && !answer.text.contains("李四"))
            _ = try await client.call(.post, "/v1/submissions", body: family.submission(id: "web-mask-1"))
            _ = try await client.call(.post, "/v1/submissions", body: family.submission(id: "web-mask-2", mobile: "12345"))
        }
        let lines = gateway.logs.lines.withLock { $0 }
        #expect(lines.contains { $0.contains(Masking.idNumber(family.child.idNumber)) })
        for line in lines {
            for secret in [family.child.idNumber, family.mother.idNumber, family.child.name, family.mother.name, "13412342458", "s3://card-docs/web"] {
                #expect(!line.contains(secret), "log line leaks personal data: \(line)")
            }
        }
    }
}
