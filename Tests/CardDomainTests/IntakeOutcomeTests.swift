import Foundation
import JSONCodec
import Testing

@testable import CardDomain

@Suite("Intake: outcomes and dead letters")
struct IntakeOutcomeTests {
    @Test("the contract's example submission is accepted and typed")
    func contractExampleAccepted() throws {
        let parsed = try #require(parse(Fixtures.sample()))
        #expect(parsed.reasons == [])
        let submission = try #require(parsed.accepted)
        #expect(parsed.submissionID == "web-20261125-000123")
        #expect(parsed.applicantIDNumber == Fixtures.applicantID)
        #expect(submission.channel == .hrssWeb)
        #expect(submission.agent.relationship == .mother)
        #expect(submission.applicant.idValidTo == .until(try #require(CivilDate("2028-01-10"))))
        #expect(submission.applicant.landline == "010-12345678")
        #expect(submission.card.bank == .bob)
        #expect(submission.card.routingKey == "BOB/BOB-0105-01")
        #expect(submission.documents.photo.claimCheck?.width == 358)
        #expect(submission.submittedAt.shanghaiDate == CivilDate("2026-11-25"))
    }

    @Test("a household-register application of a young child with the default photo is accepted")
    func householdRegisterAccepted() throws {
        var tree = Fixtures.householdRegister(born: "2020-05-20")
        tree[path: "documents.photo"] = ["default_photo": true]
        let parsed = try #require(parse(tree))
        #expect(parsed.reasons == [])
        let submission = try #require(parsed.accepted)
        #expect(submission.documents.photo == .defaultPhoto)
        #expect(submission.household == Submission.Household(agentIsHouseholder: true, sameBooklet: true))
        #expect(submission.applicant.idValidTo == .longTerm)
    }

    @Test("bytes that are not JSON go to the dead letter queue with a text free of personal data")
    func notJSON() throws {
        let payload = Data("<html>110105201503070013 13412342458 张三</html>".utf8)
        guard case .notJSON(let error) = IntakeValidator.validate(payload) else {
            Issue.record("expected notJSON")
            return
        }
        #expect(!error.contains("110105") && !error.contains("1341234") && !error.contains("张三"))
        #expect(error.contains("not JSON"))
        #expect(IntakeValidator.validate(Data()).deadLetterError != nil)
        #expect(IntakeValidator.validate(Data([0xFF, 0xFE, 0x7B])).deadLetterError?.contains("UTF-8") == true)
        // Too deep for the parser: JSON, but refused, and the cause says so.
        let deep = Data((#"{"submission_id":"web-1","agent":"# + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}").utf8)
        #expect(IntakeValidator.validate(deep).deadLetterError?.contains("nested deeper than 256 levels") == true)
        // A byte order mark before the submission (RFC 8259 §8.1) changes nothing.
        let sample = Fixtures.sample().bytes
        #expect(IntakeValidator.validate(Data([0xEF, 0xBB, 0xBF]) + sample).deadLetterError == nil)
        #expect("\(IntakeValidator.validate(Data([0xEF, 0xBB, 0xBF]) + sample))" == "\(IntakeValidator.validate(sample))")
        // Truncated JSON is not JSON either.
        let truncated = Fixtures.sample().bytes.dropLast(5)
        guard case .notJSON = IntakeValidator.validate(truncated) else {
            Issue.record("truncated JSON must be notJSON")
            return
        }
    }

    /// Every way bytes fail to be JSON gives the dead-letter cause the payload's length once:
    /// the parser's words carry it, the validator must not add it again.
    @Test("a not-JSON cause states the payload's length exactly once", arguments: [
        "{", "  ", "{} {}", "{'a':1}", #"{"submission_id":"web-1","# , String(repeating: "[", count: 300),
    ])
    func notJSONLengthOnce(_ text: String) throws {
        let payload = Data(text.utf8)
        let error = try #require(IntakeValidator.validate(payload).deadLetterError)
        let length = "\(payload.count)"
        let mentions = error.components(separatedBy: " ").filter { $0.trimmingCharacters(in: .punctuationCharacters) == length }
        #expect(mentions.count == 1, "\(error)")
        #expect(error.hasPrefix("payload is not JSON: "), "\(error)")
    }

    @Test("JSON without a usable submission_id goes to the dead letter queue", arguments: [
        ("missing", JSONValue?.none),
        ("number", JSONValue.integer(123)),
        ("null", JSONValue.null),
        ("empty", JSONValue.string("")),
        ("65 characters", JSONValue.string(String(repeating: "a", count: 65))),
        ("a space", JSONValue.string("web 1")),
        ("a slash", JSONValue.string("web/1")),
        ("Chinese", JSONValue.string("申请1")),
    ])
    func noUsableSubmissionID(_ label: String, _ id: JSONValue?) {
        var tree = Fixtures.sample()
        tree[path: "submission_id"] = id
        guard case .noUsableSubmissionID(let error) = IntakeValidator.validate(tree.bytes) else {
            Issue.record("\(label): expected noUsableSubmissionID")
            return
        }
        #expect(error.contains("submission_id"))
        #expect(!error.contains("110105"))
    }

    @Test("JSON that is not an object has no submission_id")
    func notAnObject() {
        for payload in ["[1,2]", "\"web-1\"", "42", "null"] {
            guard case .noUsableSubmissionID = IntakeValidator.validate(Data(payload.utf8)) else {
                Issue.record("\(payload): expected noUsableSubmissionID")
                continue
            }
        }
    }

    @Test("the longest and shortest usable submission_ids are accepted")
    func submissionIDBounds() throws {
        for id in ["a", String(repeating: "Az09_-", count: 10) + "abcd"] {
            var tree = Fixtures.sample()
            tree[path: "submission_id"] = .string(id)
            #expect(try #require(parse(tree)).submissionID == id)
        }
    }

    @Test("a rejected submission keeps its id and the applicant number for the duplicate check")
    func rejectedKeepsIdentifiers() throws {
        var tree = Fixtures.sample()
        tree[path: "applicant.mobile"] = "123"
        let parsed = try #require(parse(tree))
        #expect(parsed.submission == nil && parsed.accepted == nil && !parsed.isAccepted)
        #expect(parsed.submissionID == "web-20261125-000123")
        #expect(parsed.applicantIDNumber == Fixtures.applicantID)
    }

    @Test("DUPLICATE_ACTIVE_APPLICATION: the worker adds it, which rejects an otherwise valid submission")
    func duplicateAddedByWorker() throws {
        var parsed = try #require(parse(Fixtures.sample()))
        #expect(parsed.isAccepted)
        parsed.add(.duplicateActiveApplication())
        #expect(!parsed.isAccepted && parsed.accepted == nil)
        #expect(parsed.reasons.map(\.code) == [.duplicateActiveApplication])
        #expect(parsed.reasons.first?.field == "applicant.id_number")
        #expect(parsed.reasons.first?.message == "申请人已有正在办理中的社会保障卡申请，请勿重复申请")
    }

    @Test("DUPLICATE_ACTIVE_APPLICATION sorts after the stateless reasons, in contract order")
    func duplicateSortsLast() throws {
        var tree = Fixtures.sample()
        tree[path: "card.bank"] = "XYZ"
        tree[path: "consents.commitment"] = false
        var parsed = try #require(parse(tree))
        parsed.add(.duplicateActiveApplication())
        #expect(parsed.reasons.map(\.code) == [.consentMissing, .bankUnknown, .duplicateActiveApplication])
    }

    @Test("validation is deterministic: the same bytes give the same reasons in the same order")
    func stableOrder() {
        var tree = Fixtures.sample()
        tree[path: "applicant.district"] = "110100"
        tree[path: "agent.mobile"] = "1"
        tree[path: "applicant.mobile"] = "2"
        tree[path: "applicant"] = tree[path: "applicant"]
        let first = reasons(tree)
        for _ in 0..<5 { #expect(reasons(tree) == first) }
        #expect(first.map { $0.field ?? "" } == ["agent.mobile", "applicant.mobile", "applicant.district"])
    }
}
