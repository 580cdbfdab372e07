import Foundation
import JSONCodec
import Testing

@testable import CardDomain

/// Intake and `Topics/card.submission.json` must agree on what SCHEMA_INVALID means: the
/// topic's valid examples are accepted, and each invalid one is dead-lettered (no usable
/// submission_id) or rejected with SCHEMA_INVALID.
@Suite("Intake agrees with the card.submission topic schema")
struct SubmissionSchemaAgreementTests {
    struct Examples: Decodable {
        struct Invalid: Decodable {
            var why: String
            var value: JSONValue
        }
        var valid: [JSONValue]
        var invalid: [Invalid]
    }

    struct TopicFile: Decodable { var examples: Examples }

    /// `Topics/card.submission.json`, found above this file (symlinks resolved).
    static func examples() throws -> Examples {
        var dir = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while dir.path != "/" {
            let file = dir.appendingPathComponent("Topics/card.submission.json")
            if FileManager.default.fileExists(atPath: file.path) {
                return try JSONDecoder().decode(TopicFile.self, from: Data(contentsOf: file)).examples
            }
            dir.deleteLastPathComponent()
        }
        throw CocoaError(.fileNoSuchFile)
    }

    @Test("the topic's valid examples pass every intake rule")
    func validExamplesAccepted() throws {
        let examples = try Self.examples()
        #expect(!examples.valid.isEmpty)
        for (index, example) in examples.valid.enumerated() {
            let parsed = try #require(parse(example))
            #expect(parsed.reasons == [], "valid[\(index)]")
            #expect(parsed.isAccepted, "valid[\(index)]")
        }
    }

    @Test("the topic's invalid examples are dead-lettered or rejected with SCHEMA_INVALID")
    func invalidExamplesRejected() throws {
        let examples = try Self.examples()
        #expect(!examples.invalid.isEmpty)
        for example in examples.invalid {
            switch IntakeValidator.validate(example.value.bytes) {
            case .notJSON:
                Issue.record("\(example.why): JSON reported as not JSON")
            case .noUsableSubmissionID:
                #expect(example.why.contains("submission_id"), "\(example.why)")
            case .parsed(let parsed):
                #expect(parsed.reasons.contains { $0.code == .schemaInvalid }, "\(example.why): \(parsed.reasons.map(\.code))")
            }
        }
    }
}
