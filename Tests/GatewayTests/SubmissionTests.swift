import CardDomain
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import JSONCodec
import Testing

@Suite("POST /v1/submissions")
struct SubmissionTests {
    @Test("a valid submission is published once, keyed by the child's number, with the key's channel; 202 points at the application")
    func accepted() async throws {
        let gateway = GatewayUnderTest()
        let family = TestFamily(serial: 20)
        gateway.add(family)
        try await gateway.test { client in
            let response = try await client.call(.post, "/v1/submissions", key: TestKeys.jingtong, body: family.submission(id: "jt-20261125-000001"))
            #expect(response.status == .accepted)
            #expect(response.headers[.location] == "/v1/applications/jt-20261125-000001")
            #expect(response.json?["application_id"] == "jt-20261125-000001")
            #expect(response.json?["status_url"] == "/v1/applications/jt-20261125-000001")
        }
        let published = gateway.publisher.published.withLock { $0 }
        #expect(published.count == 1)
        #expect(published.first?.key == family.child.idNumber)
        let value = try #require(published.first.map { JSONValue(parsing: $0.value) } ?? nil)
        #expect(value["channel"] == "jingtong")
        #expect(value["submission_id"] == "jt-20261125-000001")
        // What was published passes intake's own stateless rules.
        #expect(IntakeValidator.validate(published[0].value).parsed?.isAccepted == true)
    }

    @Test("idempotent by submission_id: the same body (any spacing) gets the same answer and is not published again; another body is 409")
    func idempotent() async throws {
        let gateway = GatewayUnderTest()
        let family = TestFamily(serial: 21)
        gateway.add(family)
        try await gateway.test { client in
            let body = family.submission(id: "web-idem-1")
            let first = try await client.call(.post, "/v1/submissions", body: body)
            let again = try await client.call(.post, "/v1/submissions", body: body.replacingOccurrences(of: "\n", with: " "))
            #expect(first.status == .accepted && again.status == .accepted)
            #expect(first.text == again.text)
            #expect(first.headers[.location] == again.headers[.location])
            // With the channel written out it is the same body too.
            #expect(try await client.call(.post, "/v1/submissions", body: family.submission(id: "web-idem-1", channel: "hrss_web")).status == .accepted)
            #expect(gateway.publisher.count == 1)

            let other = try await client.call(.post, "/v1/submissions", body: family.submission(id: "web-idem-1", mobile: "13900001111"))
            #expect(other.status == .conflict)
            #expect(other.json?["code"] == "SUBMISSION_ID_CONFLICT")
            // Another channel reusing the id gets the same 409, not a view of the first.
            let foreign = try await client.call(.post, "/v1/submissions", key: TestKeys.minsheng, body: family.submission(id: "web-idem-1"))
            #expect(foreign.status == .conflict)
            #expect(gateway.publisher.count == 1)
        }
    }

    @Test("an id already on card.submission (written by another client) is taken too")
    func idSeenOnTopic() async throws {
        let gateway = GatewayUnderTest()
        let family = TestFamily(serial: 22)
        gateway.add(family)
        let body = family.submission(id: "web-topic-1", channel: "hrss_web")
        gateway.views.apply(topic: GatewayTopics.submission, key: Array(family.child.idNumber.utf8), value: Array(body.utf8), today: fixedToday)
        try await gateway.test { client in
            let same = try await client.call(.post, "/v1/submissions", body: body)
            #expect(same.status == .accepted)
            let other = try await client.call(.post, "/v1/submissions", body: family.submission(id: "web-topic-1", mobile: "13900001111"))
            #expect(other.status == .conflict)
        }
        #expect(gateway.publisher.count == 0)
    }

    @Test("broken stateless rules: 422 with every reason, the very codes, fields and messages intake publishes; nothing published")
    func rejected() async throws {
        let gateway = GatewayUnderTest()
        let family = TestFamily(serial: 23)
        gateway.add(family)
        let body = family.submission(id: "web-bad-1", mobile: "23412342458", address: "北京市朝阳区永安里")
            .replacingOccurrences(of: #""disclaimer": true"#, with: #""disclaimer": false"#)
        var tree = try #require(JSONValue(parsing: Array(body.utf8))?.objectValue)
        tree["channel"] = "hrss_web"
        let intake = try #require(IntakeValidator.validate(try CardJSON.encodeBytes(JSONValue.object(tree))).parsed)
        #expect(intake.reasons.count == 3)
        try await gateway.test { client in
            let response = try await client.call(.post, "/v1/submissions", body: body)
            #expect(response.status == .unprocessableContent)
            #expect(response.json?["code"] == "SUBMISSION_REJECTED")
            #expect(Set(response.reasonCodes) == ["CONSENT_MISSING", "MOBILE_INVALID", "ADDRESS_NOT_PRECISE"])
            let reasons = try #require(response.json?["reasons"]?.arrayValue)
            #expect(reasons == intake.reasons.map { reason in
                JSONValue.object(["code": .string(reason.code.rawValue), "field": reason.field.map(JSONValue.string) ?? .null,
                                  "message": .string(reason.message)])
            })
            // One broken rule: its own code and message at the top.
            let single = try await client.call(.post, "/v1/submissions", body: family.submission(id: "web-bad-2", mobile: "23412342458"))
            #expect(single.json?["code"] == "MOBILE_INVALID")
            #expect(single.json?["message"] == "代办人手机号码格式不正确，须为11位手机号码")
            // A rejected id is not used: the corrected body goes through.
            #expect(try await client.call(.post, "/v1/submissions", body: family.submission(id: "web-bad-2")).status == .accepted)
        }
        #expect(gateway.publisher.count == 1)
    }

    @Test("not JSON, not an object, or no usable submission_id: 400; another channel than the key's: 403 CHANNEL_MISMATCH")
    func refused() async throws {
        let gateway = GatewayUnderTest()
        let family = TestFamily(serial: 24)
        gateway.add(family)
        try await gateway.test { client in
            for body in ["{oops", "[1, 2]", #"{"submission_id": "has spaces"}"#, #"{"schema": "card.submission.v1"}"#] {
                let response = try await client.call(.post, "/v1/submissions", body: body)
                #expect(response.status == .badRequest, "\(body)")
                #expect(response.json?["code"] == "SCHEMA_INVALID")
            }
            let mismatch = try await client.call(.post, "/v1/submissions", key: TestKeys.web, body: family.submission(id: "web-ch-1", channel: "jingtong"))
            #expect(mismatch.status == .forbidden)
            #expect(mismatch.json?["code"] == "CHANNEL_MISMATCH")
        }
        #expect(gateway.publisher.count == 0)
    }

    @Test("Kafka refuses: 503 KAFKA_UNAVAILABLE and the id stays free, so the retry is published")
    func publishFails() async throws {
        let gateway = GatewayUnderTest()
        let family = TestFamily(serial: 25)
        gateway.add(family)
        gateway.publisher.failNext.withLock { $0 = 1 }
        try await gateway.test { client in
            let failed = try await client.call(.post, "/v1/submissions", body: family.submission(id: "web-retry-1"))
            #expect(failed.status == .serviceUnavailable)
            #expect(failed.json?["code"] == "KAFKA_UNAVAILABLE")
            #expect(failed.headers[.retryAfter] != nil)
            #expect(try await client.call(.post, "/v1/submissions", body: family.submission(id: "web-retry-1")).status == .accepted)
        }
        #expect(gateway.publisher.count == 1)
    }
}
