import CardDomain
@testable import DemoWorld
import Foundation
import JSONCodec
import Testing

@Suite("Submission generator")
struct SubmissionGeneratorTests {
    static let at = Timestamp(rfc3339: "2026-11-25T10:15:00+08:00")!

    static func generate(_ count: Int, invalid: Double, late: Double, seed: UInt64 = 11, at: Timestamp = at) -> [SubmissionGenerator.Generated] {
        let generator = SubmissionGenerator(options: .init(families: 2000, invalidShare: invalid, lateShare: late, seed: seed, runID: "t\(seed)"))
        return (0..<count).map { generator.make($0, at: at) }
    }

    @Test("valid submissions pass IntakeValidator with no reason, for distinct children, ids and keys")
    func validPassIntake() throws {
        for at in [Self.at, Timestamp(rfc3339: "2027-05-20T23:59:00+08:00")!] {
            let generated = Self.generate(1500, invalid: 0, late: 0, at: at)
            for item in generated {
                #expect(item.expected == .accepted)
                let outcome = IntakeValidator.validate(item.bytes)
                let parsed = try #require(outcome.parsed, "\(item.submissionID): \(outcome)")
                #expect(parsed.reasons.isEmpty, "\(item.submissionID): \(parsed.reasons.map { "\($0.code.rawValue) \($0.field ?? "")" })")
                #expect(parsed.submissionID == item.submissionID)
                #expect(parsed.accepted?.applicantKey == item.key)
            }
            #expect(Set(generated.map(\.submissionID)).count == generated.count)
            #expect(Set(generated.map(\.key)).count == generated.count, "no child twice in a run")
            #expect(Set(generated.map(\.channel)) == Set(Channel.allCases))
            let values = generated.map(\.value)
            #expect(values.contains { $0["applicant"]?["id_type"] == "household_register" })
            #expect(values.contains { $0["documents"]?["photo"]?["default_photo"] == true })
            #expect(values.contains { $0["agent"]?["relationship"] == "guardian" })
            #expect(values.allSatisfy { $0["card"]?["pickup"] == "agent_branch_pickup" })
        }
    }

    @Test("ids carry the channel, the Beijing date, the run and a number")
    func submissionIDs() {
        let generated = Self.generate(30, invalid: 0, late: 0, seed: 3)
        for item in generated {
            let prefix = ["hrss_web": "web", "jingtong": "jt", "minsheng": "ms"][item.channel.rawValue]!
            #expect(item.submissionID.hasPrefix(prefix + "-20261125-t3-"))
            #expect(Catalogues.isSubmissionID(item.submissionID))
        }
        #expect(generated[0].submissionID.hasSuffix("-000001"))
    }

    @Test("the same options, index and time give the same submission")
    func deterministic() {
        let a = Self.generate(50, invalid: 0.3, late: 0.2, seed: 21)
        let b = Self.generate(50, invalid: 0.3, late: 0.2, seed: 21)
        #expect(a.map(\.value) == b.map(\.value))
        #expect(a.map(\.expected) == b.map(\.expected))
        #expect(Self.generate(5, invalid: 0, late: 0, seed: 22).map(\.key) != a.prefix(5).map(\.key))
    }

    @Test("every invalid submission gets at least one reason, including the one it was broken for")
    func invalidAreCaught() throws {
        let generated = Self.generate(600, invalid: 1, late: 0, seed: 12)
        var codes = Set<ReasonCode>()
        for item in generated {
            guard case .intake(let code) = item.expected else {
                Issue.record("\(item.submissionID) expected \(item.expected)")
                continue
            }
            let parsed = try #require(IntakeValidator.validate(item.bytes).parsed)
            #expect(!parsed.reasons.isEmpty, "\(item.submissionID) passed intake")
            #expect(parsed.reasons.contains { $0.code == code }, "\(item.submissionID): wanted \(code), got \(parsed.reasons.map(\.code))")
            codes.insert(code)
        }
        #expect(codes.count >= 22, "only \(codes.map(\.rawValue).sorted())")
    }

    @Test("late flaws pass intake and are rejected by identity or routing with the expected code")
    func lateFlaws() throws {
        let generated = Self.generate(400, invalid: 0, late: 1, seed: 13)
        var seen = Set<SubmissionGenerator.Expected>()
        for item in generated {
            let parsed = try #require(IntakeValidator.validate(item.bytes).parsed)
            let submission = try #require(parsed.accepted, "\(item.submissionID): \(parsed.reasons.map(\.code))")
            let family = DemoFamilies.family(item.family)
            let records = Dictionary(uniqueKeysWithValues: family.registryRecords.map { ($0.idNumber, $0) })
            let identity = IdentityRules.check(submission, agent: records[submission.agent.idNumber],
                                               applicant: records[submission.applicant.idNumber])
            let branch = DemoBranches.branch(bank: submission.card.bank, code: submission.card.branch)
            let routing = RoutingRules.check(submission, branch: branch)
            switch item.expected {
            case .identity(let code):
                #expect(identity.reasons.contains { $0.code == code }, "\(item.submissionID): \(identity)")
            case .routing(let code):
                #expect(identity.reasons.isEmpty, "\(item.submissionID): \(identity)")
                #expect(routing.map(\.code) == [code], "\(item.submissionID)")
            default:
                Issue.record("\(item.submissionID) expected \(item.expected)")
            }
            seen.insert(item.expected)
        }
        #expect(seen.isSuperset(of: [.identity(.identityMismatch), .identity(.relationshipNotConfirmed), .identity(.personInactive),
                                     .routing(.branchClosed), .routing(.branchNoMinorService)]))
    }

    @Test("accepted submissions pass identity and routing against the demo data")
    func validPassLaterStages() throws {
        for item in Self.generate(500, invalid: 0, late: 0, seed: 14) {
            let submission = try #require(IntakeValidator.validate(item.bytes).parsed?.accepted)
            let records = Dictionary(uniqueKeysWithValues: DemoFamilies.family(item.family).registryRecords.map { ($0.idNumber, $0) })
            let identity = IdentityRules.check(submission, agent: records[submission.agent.idNumber], applicant: records[submission.applicant.idNumber])
            #expect(identity.reasons.isEmpty, "\(item.submissionID): \(identity.reasons.map(\.code))")
            let branch = DemoBranches.branch(bank: submission.card.bank, code: submission.card.branch)
            #expect(RoutingRules.check(submission, branch: branch).isEmpty)
            #expect(branch?.district == submission.applicant.district)
        }
    }

    @Test("past the last child a run applies again and says so")
    func wrapsAround() {
        let generator = SubmissionGenerator(options: .init(families: 3, invalidShare: 0, lateShare: 0, seed: 1, runID: "w"))
        let total = generator.children.count
        let items = (0..<(total + 2)).map { generator.make($0, at: Self.at) }
        #expect(items.prefix(total).allSatisfy { $0.expected == .accepted })
        #expect(items.suffix(2).allSatisfy { $0.expected == .duplicate })
    }

    @Test("generated submissions validate against Topics/card.submission.json (validate_topics.py --values)")
    func schema() throws {
        let valid = Self.generate(120, invalid: 0, late: 0, seed: 15) + Self.generate(40, invalid: 0, late: 1, seed: 16)
        // Broken ones that are still schema-valid: everything but SCHEMA_INVALID.
        let broken = Self.generate(200, invalid: 1, late: 0, seed: 17).filter { $0.expected != .intake(.schemaInvalid) }
        let input = try CardJSON.encode(JSONValue.array((valid + broken).map(\.value)))
        let result = try FleetTestSupport.python(["scripts/validate_topics.py", "--values", "card.submission"], stdin: input)
        #expect(result.status == 0, "\(result.output.suffix(3000))")
        #expect(result.output.contains("\(valid.count + broken.count) passed, 0 failed"), "\(result.output.suffix(500))")
    }

    @Test("fleet submit FILE: arrays become one record each, non-objects go unkeyed, non-JSON goes whole")
    func fileRecords() {
        let data = Data(#"[{"submission_id":"web-1","applicant":{"id_number":"110105201503070013"}}, 5, {"applicant":{}}]"#.utf8)
        let records = FileSubmissions.records(from: data)
        #expect(records.count == 3)
        #expect(records[0].key == "110105201503070013" && records[0].submissionID == "web-1")
        #expect(records[0].description.contains("110105********0013") && !records[0].description.contains("201503070013"))
        #expect(records[1].key == nil && String(decoding: records[1].value, as: UTF8.self) == "5")
        #expect(records[2].key == nil && records[2].note != nil)
        let single = Data(#"{"submission_id": "x"}"#.utf8)
        #expect(FileSubmissions.records(from: single).map(\.value) == [single], "a single value is sent byte for byte")
        #expect(FileSubmissions.records(from: Data("not json".utf8)).map(\.value) == [Data("not json".utf8)])
    }
}
