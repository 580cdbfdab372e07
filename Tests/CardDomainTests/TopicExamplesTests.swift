import Foundation
import Testing

@testable import CardDomain

/// Ties `Topics/*.json` (the contract's topics: settings, JSON Schema, examples) to the Swift
/// models: the schema checks run (through `scripts/validate_topics.py`), every valid example
/// decodes with its model and survives an encode/decode round trip, and what the model
/// encodes still conforms to the topic's schema.
@Suite("Topic examples")
struct TopicExamplesTests {
    // MARK: - 1. The Python schema validation passes

    @Test("scripts/validate_topics.py passes (schemas, examples, format checks, partitions)")
    func validationScriptPasses() throws {
        let result = try TopicFiles.python(["scripts/validate_topics.py"])
        #expect(result.status == 0, "validate_topics.py failed:\n\(result.output)")
        #expect(result.output.contains(" passed, 0 failed"), "unexpected output:\n\(result.output)")
    }

    // MARK: - 2. Every valid example decodes with its model and round-trips

    @Test("valid examples decode with their model and round-trip", arguments: TopicModel.allCases)
    func validExamplesRoundTrip(_ model: TopicModel) throws {
        let encoded = try model.roundTripValidExamples()
        #expect(!encoded.isEmpty, "\(model.topic) has no valid examples")

        // 3. What the Swift model writes must still be a valid value of the topic.
        let input = Data("[".utf8) + encoded.joined(separator: Data(",".utf8)) + Data("]".utf8)
        let result = try TopicFiles.python(["scripts/validate_topics.py", "--values", model.topic], stdin: input)
        #expect(result.status == 0, "\(model.type) encodes values that break \(model.topic)'s schema:\n\(result.output)")
    }

    @Test("every topic file has a model in this test")
    func everyTopicFileIsCovered() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: TopicFiles.topicsDirectory.path)
            .filter { $0.hasSuffix(".json") }
            .map { String($0.dropLast(".json".count)) }
        #expect(Set(files) == Set(TopicModel.allCases.map(\.topic)))
    }
}

// Helpers are nested in the suite so their names cannot collide with other test files
// of the CardDomainTests target.
extension TopicExamplesTests {
    /// Each topic and the CardDomain model its values decode into.
    enum TopicModel: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case submission = "card.submission"
        case identityVerification = "card.identity-verification"
        case bankRouting = "card.bank-routing"
        case cardProduction = "card.card-production"
        case applicationClosed = "card.application-closed"
        case orders = "card.orders"
        case bankEvents = "card.bank-events"
        case status = "card.status"
        case dlq = "card.dlq"
        case dlqAudit = "card.dlq-audit"
        case registryPersons = "registry.persons"
        case bankBranches = "bank.branches"

        var topic: String { rawValue }
        var testDescription: String { "\(topic) → \(type)" }

        var type: String {
            switch self {
            case .submission: "Submission"
            case .identityVerification, .bankRouting, .cardProduction: "ApplicationEnvelope"
            case .applicationClosed: "ApplicationClosed"
            case .orders: "CardOrder"
            case .bankEvents: "BankEvent"
            case .status: "StatusEvent"
            case .dlq: "DeadLetter"
            case .dlqAudit: "DeadLetterAudit"
            case .registryPersons: "RegistryPerson"
            case .bankBranches: "Branch"
            }
        }

        /// Decodes every valid example, round-trips it, and returns the model's encodings.
        func roundTripValidExamples() throws -> [Data] {
            switch self {
            case .submission: try RoundTrip.check(Submission.self, topic: topic)
            case .identityVerification, .bankRouting, .cardProduction:
                try RoundTrip.check(ApplicationEnvelope.self, topic: topic)
            case .applicationClosed: try RoundTrip.check(ApplicationClosed.self, topic: topic)
            case .orders: try RoundTrip.check(CardOrder.self, topic: topic)
            case .bankEvents: try RoundTrip.check(BankEvent.self, topic: topic)
            case .status: try RoundTrip.check(StatusEvent.self, topic: topic)
            case .dlq: try RoundTrip.check(DeadLetter.self, topic: topic)
            case .dlqAudit: try RoundTrip.check(DeadLetterAudit.self, topic: topic)
            case .registryPersons: try RoundTrip.check(RegistryPerson.self, topic: topic)
            case .bankBranches: try RoundTrip.check(Branch.self, topic: topic)
            }
        }
    }

    enum RoundTrip {
        static func encoder() -> JSONEncoder {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return encoder
        }

        /// For models that are not `Equatable`: decode → encode → decode → encode must be stable.
        static func check<T: Codable>(_ type: T.Type, topic: String) throws -> [Data] {
            try TopicFiles.validExamples(of: topic).enumerated().map { index, example in
                let value = try decode(T.self, example, topic: topic, index: index)
                let first = try encoder().encode(value)
                let again = try JSONDecoder().decode(T.self, from: first)
                let second = try encoder().encode(again)
                #expect(first == second, "\(topic) valid[\(index)]: \(T.self) does not re-encode identically")
                return first
            }
        }

        /// For `Equatable` models: the value decoded from its own encoding is equal to it.
        static func check<T: Codable & Equatable>(_ type: T.Type, topic: String) throws -> [Data] {
            try TopicFiles.validExamples(of: topic).enumerated().map { index, example in
                let value = try decode(T.self, example, topic: topic, index: index)
                let first = try encoder().encode(value)
                let again = try JSONDecoder().decode(T.self, from: first)
                #expect(again == value, "\(topic) valid[\(index)]: \(T.self) changes in an encode/decode round trip")
                #expect(try encoder().encode(again) == first, "\(topic) valid[\(index)]: \(T.self) re-encodes differently")
                return first
            }
        }

        private static func decode<T: Decodable>(_ type: T.Type, _ example: Data, topic: String, index: Int) throws -> T {
            do {
                return try JSONDecoder().decode(T.self, from: example)
            } catch {
                Issue.record("\(topic) valid[\(index)] does not decode as \(T.self): \(error)")
                throw error
            }
        }
    }

    // MARK: - Locating and reading Topics/

    enum TopicFiles {
        /// The repository root: the first directory above this source file (symlinks resolved,
        /// so a scratch package that links this file still finds the real repo) holding Topics/.
        static let repoRoot: URL = {
            let fm = FileManager.default
            var dir = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
            while true {
                var isDirectory: ObjCBool = false
                if fm.fileExists(atPath: dir.appendingPathComponent("Topics").path, isDirectory: &isDirectory),
                   isDirectory.boolValue {
                    return dir
                }
                let parent = dir.deletingLastPathComponent()
                if parent.path == dir.path { break }
                dir = parent
            }
            preconditionFailure("no Topics/ directory above \(#filePath)")
        }()

        static var topicsDirectory: URL { repoRoot.appendingPathComponent("Topics") }

        /// The `examples.valid` values of one topic file, each re-serialised as JSON bytes.
        static func validExamples(of topic: String) throws -> [Data] {
            let url = topicsDirectory.appendingPathComponent("\(topic).json")
            let file = try JSONDecoder().decode(TopicFile.self, from: Data(contentsOf: url))
            #expect(file.topic == topic)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.withoutEscapingSlashes]
            return try file.examples.valid.map { try encoder.encode($0) }
        }

        struct TopicFile: Decodable {
            struct Examples: Decodable { var valid: [AnyJSON] }
            var topic: String
            var examples: Examples
        }

        /// Runs `python3 <arguments>` in the repo root; returns its exit status and output.
        static func python(_ arguments: [String], stdin: Data? = nil) throws -> (status: Int32, output: String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3"] + arguments
            process.currentDirectoryURL = repoRoot
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            let input = Pipe()
            process.standardInput = stdin == nil ? FileHandle.nullDevice : input
            try process.run()
            if let stdin {
                // Write on another thread so a full stdout pipe can never deadlock us.
                let writer = input.fileHandleForWriting
                let thread = Thread {
                    writer.write(stdin)
                    try? writer.close()
                }
                thread.start()
            }
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
    }

    /// A JSON tree, only to carry example values from a topic file to a model's decoder.
    enum AnyJSON: Codable {
        case null, bool(Bool), int(Int64), double(Double), string(String), array([AnyJSON]), object([String: AnyJSON])

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null }
            else if let v = try? c.decode(Bool.self) { self = .bool(v) }
            else if let v = try? c.decode(Int64.self) { self = .int(v) }
            else if let v = try? c.decode(Double.self) { self = .double(v) }
            else if let v = try? c.decode(String.self) { self = .string(v) }
            else if let v = try? c.decode([AnyJSON].self) { self = .array(v) }
            else { self = .object(try c.decode([String: AnyJSON].self)) }
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            switch self {
            case .null: try c.encodeNil()
            case .bool(let v): try c.encode(v)
            case .int(let v): try c.encode(v)
            case .double(let v): try c.encode(v)
            case .string(let v): try c.encode(v)
            case .array(let v): try c.encode(v)
            case .object(let v): try c.encode(v)
            }
        }
    }
}
