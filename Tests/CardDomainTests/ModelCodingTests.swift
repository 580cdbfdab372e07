import Foundation
import JSONCodec
import Testing

@testable import CardDomain

@Suite("Models: JSON keys and coding")
struct ModelCodingTests {
    private func object(_ value: some Encodable) throws -> [String: Any] {
        try #require(JSONSerialization.jsonObject(with: CardJSON.encode(value)) as? [String: Any])
    }

    static let at = Timestamp(rfc3339: "2026-11-25T10:15:01.204+08:00")!

    @Test("status events use contract keys and omit absent optionals")
    func statusEvent() throws {
        let received = StatusEvent(applicationID: "web-1", status: .received, at: Self.at, seq: 1)
        let json = try object(received)
        #expect(Set(json.keys) == ["schema", "application_id", "submission_id", "status", "reasons", "at", "seq"])
        #expect(json["schema"] as? String == "card.status.v1")
        #expect(json["submission_id"] as? String == "web-1")
        #expect(json["at"] as? String == "2026-11-25T10:15:01.204+08:00")

        let ready = StatusEvent(
            applicationID: "web-1", status: .readyForPickup, relationshipLabel: .motherSon, bank: .bob,
            branch: "BOB-0105-01", dueBy: Self.at.adding(days: 30), eCard: true, at: Self.at, seq: 5)
        let readyJSON = try object(ready)
        #expect(readyJSON["status"] as? String == "ready_for_pickup")
        #expect(readyJSON["relationship_label"] as? String == "母子")
        #expect(readyJSON["e_card"] as? Bool == true)
        #expect(readyJSON["due_by"] as? String == "2026-12-25T10:15:01.204+08:00")
        #expect(try JSONDecoder().decode(StatusEvent.self, from: CardJSON.encode(ready)) == ready)
    }

    @Test("reasons always carry field, null when not about one field")
    func reasonField() throws {
        let rejected = StatusEvent(
            applicationID: "web-1", status: .rejected,
            reasons: [Reason(code: .applicantNotMinor, field: "applicant.birth_date"), Reason(code: .bankProductionFailed, field: nil)],
            at: Self.at, seq: 2)
        let text = String(decoding: try CardJSON.encode(rejected), as: UTF8.self)
        #expect(text.contains(#"{"code":"APPLICANT_NOT_MINOR","field":"applicant.birth_date","message":"申请人年龄须未满18周岁"#))
        #expect(text.contains(#""field":null"#))
        #expect(try JSONDecoder().decode(StatusEvent.self, from: Data(text.utf8)) == rejected)
    }

    @Test("application statuses and reason codes are spelled as in the contract")
    func spellings() {
        #expect(ApplicationStatus.allCases.map(\.rawValue) == [
            "received", "identity_verified", "routed", "in_production", "ready_for_pickup", "picked_up",
            "rejected", "failed", "overdue",
        ])
        #expect(ApplicationStatus.allCases.filter(\.freesApplicant) == [.rejected, .failed])
        #expect(ReasonCode.allCases.count == 37)  // 35 of the contract + BANK_PRODUCTION_FAILED, SUBMISSION_TOO_LARGE
        #expect(ReasonCode.householdMismatch.rawValue == "HOUSEHOLD_MISMATCH")
        #expect(ReasonCode.branchNoMinorService.rawValue == "BRANCH_NO_MINOR_SERVICE")
        #expect(ReasonCode(rawValue: "DUPLICATE_ACTIVE_APPLICATION") == .duplicateActiveApplication)
    }

    @Test("the envelope carries the whole submission and round-trips")
    func envelope() throws {
        let submission = try #require(parse(Fixtures.sample())?.accepted)
        let envelope = ApplicationEnvelope(submission: submission, seq: 1, receivedAt: Self.at)
        let json = try object(envelope)
        #expect(json["schema"] as? String == "card.application.v1")
        #expect(json["application_id"] as? String == "web-20261125-000123")
        #expect(json["received_at"] as? String == "2026-11-25T10:15:01.204+08:00")
        #expect(json["relationship_label"] == nil)
        #expect(try JSONDecoder().decode(ApplicationEnvelope.self, from: CardJSON.encode(envelope)) == envelope)
        #expect(envelope.routingKey == "BOB/BOB-0105-01")
        #expect(envelope.applicantIDNumber == Fixtures.applicantID)
    }

    @Test("application-closed news is keyed by the applicant")
    func closed() throws {
        let closed = ApplicationClosed(applicationID: "web-1", applicantIDNumber: Fixtures.applicantID, status: .failed, at: Self.at)
        let json = try object(closed)
        #expect(json["schema"] as? String == "card.application-closed.v1")
        #expect(json["status"] as? String == "failed")
        #expect(closed.key == Fixtures.applicantID)
        #expect(closed.status.status == .failed)
    }

    @Test("a card order from a submission: deterministic id, due in 30 days, masked agent mobile")
    func order() throws {
        let submission = try #require(parse(Fixtures.sample())?.accepted)
        let order = CardOrder(submission: submission, orderedAt: Self.at)
        #expect(order.orderID == "ORD-web-20261125-000123")
        #expect(order.dueBy.description == "2026-12-25T10:15:01.204+08:00")
        #expect(order.agent.mobileMasked == "134****2458")
        #expect(order.cardholder.idNumber == Fixtures.applicantID)
        let json = try object(order)
        #expect(json["schema"] as? String == "card.order.v1")
        #expect((json["agent"] as? [String: Any])?["mobile_masked"] as? String == "134****2458")
        #expect((json["photo"] as? [String: Any])?["media_type"] as? String == "image/jpeg")
        #expect(try JSONDecoder().decode(CardOrder.self, from: CardJSON.encode(order)) == order)
    }

    @Test("the default photo encodes as {\"default_photo\": true}")
    func defaultPhoto() throws {
        #expect(String(decoding: try CardJSON.encode(Attachment.defaultPhoto), as: UTF8.self) == #"{"default_photo":true}"#)
        #expect(try JSONDecoder().decode(Attachment.self, from: Data(#"{"default_photo":true}"#.utf8)) == .defaultPhoto)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Attachment.self, from: Data(#"{"default_photo":false}"#.utf8))
        }
    }

    @Test("bank events: null reason kept, and what each event does")
    func bankEvent() throws {
        let text = #"{"application_id":"web-1","order_id":"ORD-web-1","event":"at_branch","reason":null,"at":"2026-12-01T09:00:00+08:00"}"#
        let event = try JSONDecoder().decode(BankEvent.self, from: Data(text.utf8))
        #expect(event.event == .atBranch && event.reason == nil)
        #expect(String(decoding: try CardJSON.encode(event), as: UTF8.self).contains(#""reason":null"#))
        #expect(BankEvent.Kind.atBranch.resultingStatus == .readyForPickup)
        #expect(BankEvent.Kind.pickedUp.resultingStatus == .pickedUp)
        #expect(BankEvent.Kind.failed.resultingStatus == .failed)
        #expect(BankEvent.Kind.accepted.resultingStatus == nil && BankEvent.Kind.produced.resultingStatus == nil)
    }

    @Test("registry persons: null ids and null guardian list decode; nulls are written back")
    func registryPerson() throws {
        let text = #"{"id_number":"110105201503070013","name":"代办二十五","gender":"male","birth_date":"2015-03-07","status":"active","father_id":null,"mother_id":"110105198503072444","guardian_ids":null,"household_id":null,"is_householder":false}"#
        let person = try JSONDecoder().decode(RegistryPerson.self, from: Data(text.utf8))
        #expect(person.fatherID == nil && person.motherID == Fixtures.agentID && person.guardianIDs == [])
        let json = try object(person)
        #expect(json["father_id"] is NSNull && json["household_id"] is NSNull)
        #expect(json["guardian_ids"] as? [String] == [])
    }

    @Test("branches use serves_minors and the bank/branch key")
    func branch() throws {
        let text = #"{"bank":"BOB","branch":"BOB-0105-01","name":"北京银行朝阳支行","district":"110105","address":"永安里1号","open":true,"serves_minors":false}"#
        let branch = try JSONDecoder().decode(Branch.self, from: Data(text.utf8))
        #expect(branch.servesMinors == false && branch.key == "BOB/BOB-0105-01")
    }

    @Test("dead letters redact the error, keep the payload, and write a null key")
    func deadLetter() throws {
        let payload = Data("not json 110105201503070013".utf8)
        let letter = DeadLetter(
            sourceTopic: "card.submission", partition: 3, offset: 42, key: nil,
            error: "bad record for 110105201503070013 / 13412342458 at s3://bucket/secret/photo.jpg",
            payload: payload, worker: "intake-1", at: Self.at)
        #expect(letter.error == "bad record for 110105********0013 / 134****2458 at s3://bucket/…")
        #expect(letter.payload == payload)
        let json = try object(letter)
        #expect(json["key"] is NSNull)
        #expect(Set(json.keys) == ["source_topic", "partition", "offset", "key", "error", "payload_base64", "worker", "at"])
        #expect(try JSONDecoder().decode(DeadLetter.self, from: CardJSON.encode(letter)) == letter)
    }

    @Test("dead letters built from intake outcomes carry no personal data")
    func intakeDeadLetter() throws {
        let payload = Data(#"{"applicant":{"id_number":"110105201503070013","mobile":"13412342458","name":"张三"}}"#.utf8)
        let error = try #require(IntakeValidator.validate(payload).deadLetterError)
        let letter = DeadLetter(
            sourceTopic: "card.submission", partition: 0, offset: 1, key: Fixtures.applicantID, error: error,
            payload: payload, worker: "intake-1", at: Self.at)
        for secret in ["110105201503070013", "13412342458", "张三"] {
            #expect(!letter.error.contains(secret))
        }
    }

    @Test("a plain JSONDecoder decodes the contract example into Submission")
    func plainDecoder() throws {
        let submission = try JSONDecoder().decode(Submission.self, from: Data(Fixtures.sampleJSON.utf8))
        #expect(submission.applicant.birthDate == CivilDate("2015-03-07"))
        #expect(submission.consents == Submission.Consents())
        // Encoding and decoding again changes nothing.
        #expect(try JSONDecoder().decode(Submission.self, from: CardJSON.encode(submission)) == submission)
    }
}
