import Foundation
import Testing

@testable import CardDomain
@testable import JSONCodec

/// `CompactJSONEncoder` must write exactly the bytes of Foundation's `JSONEncoder` with
/// `[.sortedKeys, .withoutEscapingSlashes]`: a message re-emitted after a replay has to be
/// byte-identical to the copy already sent. Every check compares against `JSONEncoder`
/// itself, and uses the encoder's no-fallback entry point so a case it handed back to
/// Foundation cannot pass by accident.
@Suite("CompactJSONEncoder")
struct CompactJSONEncoderTests {
    // MARK: - Key order

    @Test("keys sort by UTF-8 bytes, as JSONEncoder's .sortedKeys does on this platform")
    func keyOrder() throws {
        let keys = ["a_b", "ab", "a", "B", "b", "Z", "z", "_", "a9", "a10", "aB", "ab_", "", "é", "中", "😀", "A", "0", "~"]
        let value = Dictionary(uniqueKeysWithValues: keys.enumerated().map { ($0.element, $0.offset) })
        try Self.expectIdentical(value)
        // Written out, so the order we rely on is documented: not case-insensitive, not numeric.
        let text = String(decoding: try CompactJSONEncoder().encodeWithoutFallback(value), as: UTF8.self)
        let order = ["", "0", "A", "B", "Z", "_", "a", "a10", "a9", "aB", "a_b", "ab", "ab_", "b", "z", "~", "é", "中", "😀"]
        #expect(text == "{" + order.map { "\"\($0)\":\(value[$0]!)" }.joined(separator: ",") + "}")
    }

    @Test("keys needing escapes sort by their unescaped bytes")
    func escapedKeys() throws {
        try Self.expectIdentical(["a\"": 1, "a": 2, "a\u{1}": 3, "a!": 4, "a\\": 5, "a]": 6, "a\n": 7, "a/": 8])
        try Self.expectIdentical(["\u{0}": 1, " ": 2, "\u{1f}": 3, "\"": 4])
    }

    @Test("members are sorted whatever order they are encoded in", arguments: [3, 16, 17, 40, 300])
    func manyKeys(_ count: Int) throws {
        var value: [String: Int] = [:]
        for i in 0..<count { value["key_\(i * 7919 % 1000)_\(i)"] = i }
        try Self.expectIdentical(value)
        try Self.expectIdentical(ReversedKeys(count: count))
    }

    // MARK: - Strings

    @Test("strings escape exactly like JSONEncoder", arguments: CompactJSONEncoderTests.trickyStrings)
    func trickyString(_ string: String) throws {
        try Self.expectIdentical(string)
        try Self.expectIdentical([string])
        try Self.expectIdentical([string: string])
        try Self.expectIdentical(Reason(code: .schemaInvalid, field: string, message: string))
    }

    @Test("every control character U+0000–U+001F, and U+007F")
    func controlCharacters() throws {
        let all = String(String.UnicodeScalarView((0...0x1F).map { Unicode.Scalar($0)! })) + "\u{7F}"
        try Self.expectIdentical(all)
        for scalar in 0...0x7F {
            let text = "x" + String(Unicode.Scalar(UInt8(scalar))) + "y"
            try Self.expectIdentical(["k": text])
        }
    }

    @Test("an escape at every offset of a long string (the 8-byte scan and its tail)")
    func escapeOffsets() throws {
        for special in ["\"", "\\", "\u{0}", "\n", "\u{1F}", "/", "\u{7F}", "é", "😀"] {
            for filler in ["a", "中"] {
                let strings = (0..<40).map { offset in
                    String(repeating: filler, count: offset) + special + String(repeating: filler, count: 39 - offset)
                }
                try Self.expectIdentical(strings, "\(special.unicodeScalars.map(\.value)) in \(filler)")
            }
        }
    }

    static let trickyStrings: [String] = [
        "", "plain", "quote \" inside", "back\\slash", "s/l/a/s/h", "https://card.example/a?b=c&d=e",
        "\u{0}", "\u{1}\u{2}\u{3}", "\u{8}\u{9}\u{A}\u{B}\u{C}\u{D}", "\u{1F}", "\u{7F}",
        "line\u{2028}separator\u{2029}", "emoji 😀👨‍👩‍👧‍👦🇨🇳", "北京市朝阳区永安里20号", "代办二十五",
        "e\u{301} combining", "\u{FEFF}bom", "\u{10FFFF}", "tab\tnew\nline\r\n", "\"\\\"/\\",
        "<script>alert('x')</script>", String(repeating: "长", count: 500) + "\u{1}",
    ]

    // MARK: - Numbers

    @Test("integers of every width, at their limits")
    func integers() throws {
        try Self.expectIdentical([Int.min, Int.max, 0, -1, 1, 10, -10, 1_000_000_007, -999_999_999_999])
        try Self.expectIdentical([Int64.min, Int64.max])
        try Self.expectIdentical([UInt64.max, 0])
        try Self.expectIdentical(Widths())
        try Self.expectIdentical(Int64.min)
        try Self.expectIdentical(Int8.min)
        try Self.expectIdentical(["big": Int128.max, "small": Int128.min])
        try Self.expectIdentical([UInt128.max])
    }

    @Test("floating point matches JSONEncoder's format")
    func floatingPoint() throws {
        let doubles: [Double] = [
            0, -0.0, 1, -1, 0.1, 0.2 + 0.1, 1.5, 100, 1e15, 1e16, 1e17, 1e20, 1e21, 1e-5, 1e-7, 123456.789,
            .pi, 5e-324, .leastNormalMagnitude, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
            1_700_000_000.123456, 9_007_199_254_740_993,
        ]
        try Self.expectIdentical(doubles)
        for value in doubles {
            try Self.expectIdentical(value)
            try Self.expectIdentical(["d": value])
            try Self.expectIdentical(JSONValue.number(value))
        }
        let floats: [Float] = [0, 1, 0.1, 3.4e38, 1e-7, 16_777_217, -2.5]
        try Self.expectIdentical(floats)
        try Self.expectIdentical(FloatBox(value: 0.1, values: floats))
    }

    @Test("non-finite floats throw JSONEncoder's error")
    func nonFinite() throws {
        for value in [Double.nan, .infinity, -.infinity] {
            #expect(throws: CompactJSONEncoderFallback.self) { try CompactJSONEncoder().encodeWithoutFallback(["x": value]) }
            #expect(throws: EncodingError.self) { try CompactJSONEncoder().encode(["x": value]) }
            #expect(throws: EncodingError.self) { try CompactJSONEncoder().encode(value) }
        }
    }

    // MARK: - Foundation types and fragments

    @Test("Date, Data, URL and Decimal as JSONEncoder writes them by default")
    func foundationTypes() throws {
        try Self.expectIdentical(Date(timeIntervalSinceReferenceDate: 12.5))
        try Self.expectIdentical(["at": Date(timeIntervalSince1970: 1_764_036_900.25)])
        try Self.expectIdentical(Data([0, 1, 2, 253, 254, 255]))
        try Self.expectIdentical(["payload": Data("hello, 世界".utf8), "empty": Data()])
        try Self.expectIdentical(URL(string: "https://card.example/a/b?c=d%20e#f")!)
        try Self.expectIdentical(["uri": URL(string: "s3://card-uploads/2026/11/25/x.jpg")!])
        try Self.expectIdentical([Decimal(string: "12.340")!, Decimal(-7), Decimal(string: "0.000001")!])
        try Self.expectIdentical(Optional<Data>.some(Data([1, 2, 3])))
    }

    @Test("top-level fragments and null")
    func fragments() throws {
        try Self.expectIdentical("top")
        try Self.expectIdentical(42)
        try Self.expectIdentical(true)
        try Self.expectIdentical(Int?.none)
        try Self.expectIdentical([Int?.none, 1, nil])
        try Self.expectIdentical(JSONValue.null)
        try Self.expectIdentical(ApplicationStatus.identityVerified)
        try Self.expectIdentical(RelationshipLabel.motherDaughter)
    }

    // MARK: - Containers

    @Test("empty arrays and objects")
    func empties() throws {
        try Self.expectIdentical([Int]())
        try Self.expectIdentical([String: Int]())
        try Self.expectIdentical([[String: Int]()])
        try Self.expectIdentical(["a": [Int](), "b": []])
        try Self.expectIdentical(Empty())
        try Self.expectIdentical([Empty(), Empty()])
        try Self.expectIdentical(["nothing": EncodesNothing()])
        try Self.expectIdentical([EncodesNothing()])
        try Self.expectIdentical(JSONValue.object([:]))
        try Self.expectIdentical(JSONValue.array([.array([]), .object([:])]))
    }

    @Test("nested arrays of objects")
    func nesting() throws {
        let reasons = [Reason(code: .idExpired, field: "agent.id_valid_to"), Reason(code: .bankProductionFailed, field: nil)]
        try Self.expectIdentical([reasons, [], reasons])
        try Self.expectIdentical(["outer": ["inner": [["z": 1, "a": 2], [:]]]])
        try Self.expectIdentical([[[[1]]], [[[2, 3]]]])
        let deep: JSONValue = ["z": ["y": ["x": [["w": 1, "v": [true, false, .null]], "s", 1.25]]], "a": [:]]
        try Self.expectIdentical(deep)
        try Self.expectIdentical(Fixtures.sample())
    }

    @Test("hand-written containers: nested, reused and in any order")
    func handWritten() throws {
        try Self.expectIdentical(NestedContainers(tag: "x"))
        try Self.expectIdentical([NestedContainers(tag: "y"), NestedContainers(tag: "z")])
        try Self.expectIdentical(TwoContainerRequests())
        try Self.expectIdentical(["wrapped": SingleValueWrapper(inner: Reason(code: .branchClosed, field: "card.branch"))])
        try Self.expectIdentical(SingleValueWrapper(inner: EncodesNothing()))
    }

    @Test("coding paths seen by nested values match JSONEncoder's")
    func codingPaths() throws {
        try Self.expectIdentical(PathProbe())
        try Self.expectIdentical(["a": [PathProbe(), PathProbe()], "b": [PathProbe()]])
        try Self.expectIdentical(PathHolder())
        try Self.expectIdentical([PathHolder()])
    }

    @Test("what a single buffer cannot mirror falls back to JSONEncoder, with its output")
    func fallbacks() throws {
        let cases: [(String, any Encodable)] = [
            ("repeated key", RepeatedKey()),
            ("super encoder", UsesSuperEncoder()),
            ("nested container written after a sibling", LateNestedWrite()),
            ("nesting deeper than 256", Deep(depth: 300)),
        ]
        for (name, value) in cases {
            #expect(throws: CompactJSONEncoderFallback.self, "\(name) should not take the fast path") {
                try CompactJSONEncoder().encodeWithoutFallback(value)
            }
            let ours = try CompactJSONEncoder().encode(value)
            let foundation = Array(try Self.reference().encode(value))
            #expect(ours == foundation, "\(name): \(Self.text(ours)) vs \(Self.text(foundation))")
        }
        #expect(throws: EncodingError.self) { try CompactJSONEncoder().encode(EncodesNothing()) }
        // Moderate nesting stays on the fast path.
        try Self.expectIdentical(Deep(depth: 200))
    }

    // MARK: - The contract's models

    @Test("every model, with all optionals set and unset")
    func models() throws {
        let at = Timestamp(rfc3339: "2026-11-25T10:15:01.204+08:00")!
        let submission = try CardJSON.decode(Submission.self, from: Array(Fixtures.sampleJSON.utf8))
        var bare = submission
        bare.household = nil
        bare.applicant.landline = nil
        bare.documents = Submission.Documents(photo: .defaultPhoto)
        let household = try Fixtures.householdRegister().decode(Submission.self)
        for value in [submission, bare, household] { try Self.expectIdentical(value) }

        let envelopes = [
            ApplicationEnvelope(submission: bare, seq: 1, receivedAt: at),
            ApplicationEnvelope(
                submission: submission, seq: 3, receivedAt: at, relationshipLabel: .motherSon,
                identityVerifiedAt: at.adding(days: 1), routedAt: Timestamp(rfc3339: "2026-11-26T00:00:00Z")!,
                traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ]
        for value in envelopes { try Self.expectIdentical(value) }

        let statuses = [
            StatusEvent(applicationID: "web-1", status: .received, at: at, seq: 1),
            StatusEvent(
                applicationID: "web-1", submissionID: "web-1", status: .rejected,
                reasons: [Reason(code: .applicantNotMinor, field: "applicant.birth_date"), Reason(code: .bankProductionFailed, field: nil)],
                relationshipLabel: .guardian, bank: .psbc, branch: "PSBC-0105-01",
                dueBy: Timestamp(rfc3339: "2026-12-25T10:15:01.5-05:30")!, eCard: false, at: at, seq: 7),
        ]
        for value in statuses { try Self.expectIdentical(value) }

        let cardholder = CardOrder.Cardholder(
            name: "代办二十五", idNumber: Fixtures.applicantID, gender: .male, birthDate: CivilDate("2015-03-07")!,
            nationality: "CHN", ethnicity: "01", district: "110105", address: "北京市朝阳区永安里20号")
        let orders = [
            CardOrder(submission: submission, orderedAt: at),
            CardOrder(orderID: "ORD-web-2", applicationID: "web-2", bank: .icbc, branch: "ICBC-0101-01",
                      cardholder: cardholder, photo: .defaultPhoto, functions: [], agent: .init(name: "张三", mobileMasked: "134****2458"),
                      orderedAt: at),
        ]
        for value in orders { try Self.expectIdentical(value) }

        for outcome in ApplicationClosed.Outcome.allCases {
            try Self.expectIdentical(ApplicationClosed(applicationID: "web-1", applicantIDNumber: Fixtures.applicantID, status: outcome, at: at))
        }
        for reason in [nil, "bank said \"no\"\n"] {
            try Self.expectIdentical(BankEvent(applicationID: "web-1", orderID: "ORD-web-1", event: .failed, reason: reason, at: at))
        }
        for key in [nil, "", Fixtures.applicantID] {
            try Self.expectIdentical(DeadLetter(
                sourceTopic: "card.submission", partition: Int32.max, offset: Int64.max, key: key,
                error: "not JSON: \u{1}", payload: Array("{\"a\": \"/\"}".utf8) + [0xFF, 0x00], worker: "intake", at: at))
        }
        try Self.expectIdentical(RegistryPerson(idNumber: Fixtures.applicantID, name: "代办二十五", gender: .male, birthDate: CivilDate("2015-03-07")!))
        try Self.expectIdentical(RegistryPerson(
            idNumber: Fixtures.applicantID, name: "代办二十五", gender: .male, birthDate: CivilDate("2015-03-07")!,
            status: .deceased, fatherID: "110105198001010011", motherID: Fixtures.agentID,
            guardianIDs: ["110105197001010011", "110105197101010022"], householdID: "H-1", isHouseholder: true))
        try Self.expectIdentical(Branch(bank: "BOB", branch: "BOB-0105-01", name: "北京银行朝阳支行", district: "110105",
                                        address: "朝阳区 1 号", open: false, servesMinors: false))
        try Self.expectIdentical(Attachment.defaultPhoto)
        try Self.expectIdentical(submission.documents.photo)
        try Self.expectIdentical([Submission.Validity.longTerm, .until(CivilDate("2035-06-01")!)])
        try Self.expectIdentical(Timestamp(secondsSinceEpoch: -1.5, utcOffsetSeconds: -3600))
    }

    @Test("CardJSON.encode and encodeBytes write JSONEncoder's bytes")
    func cardJSON() throws {
        let value = try CardJSON.decode(Submission.self, from: Array(Fixtures.sampleJSON.utf8))
        let foundation = try Self.reference().encode(value)
        #expect(try CardJSON.encode(value) == foundation)
        #expect(try CardJSON.encodeBytes(value) == Array(foundation))
        #expect(try CardJSON.encoder().encode(value) == foundation)
    }

    @Test("every valid topic example, decoded into its model, re-encodes identically",
          arguments: TopicExamplesTests.TopicModel.allCases)
    func topicExamples(_ model: TopicExamplesTests.TopicModel) throws {
        let examples = try TopicExamplesTests.TopicFiles.validExamples(of: model.topic)
        #expect(!examples.isEmpty)
        for (index, example) in examples.enumerated() {
            switch model {
            case .submission: try Self.expectDecodedIdentical(Submission.self, example, model, index)
            case .identityVerification, .bankRouting, .cardProduction:
                try Self.expectDecodedIdentical(ApplicationEnvelope.self, example, model, index)
            case .applicationClosed: try Self.expectDecodedIdentical(ApplicationClosed.self, example, model, index)
            case .orders: try Self.expectDecodedIdentical(CardOrder.self, example, model, index)
            case .bankEvents: try Self.expectDecodedIdentical(BankEvent.self, example, model, index)
            case .status: try Self.expectDecodedIdentical(StatusEvent.self, example, model, index)
            case .dlq: try Self.expectDecodedIdentical(DeadLetter.self, example, model, index)
            case .dlqAudit: try Self.expectDecodedIdentical(DeadLetterAudit.self, example, model, index)
            case .registryPersons: try Self.expectDecodedIdentical(RegistryPerson.self, example, model, index)
            case .bankBranches: try Self.expectDecodedIdentical(Branch.self, example, model, index)
            }
            // The example as a plain tree too: arbitrary keys, nulls, nested objects.
            try Self.expectIdentical(try #require(JSONValue(parsing: example)), "\(model.topic) valid[\(index)] as a tree")
        }
    }
}

// MARK: - Helpers

extension CompactJSONEncoderTests {
    static func reference() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

    /// Encodes with both encoders and expects the same bytes from the fast path.
    static func expectIdentical<T: Encodable>(
        _ value: T, _ label: String = "", sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let foundation = Array(try reference().encode(value))
        let ours: [UInt8]
        do {
            ours = try CompactJSONEncoder().encodeWithoutFallback(value)
        } catch is CompactJSONEncoderFallback {
            Issue.record("\(label) \(T.self) fell back to JSONEncoder", sourceLocation: sourceLocation)
            return
        }
        #expect(ours == foundation, "\(label) \(T.self)\n ours:       \(text(ours))\n foundation: \(text(foundation))",
                sourceLocation: sourceLocation)
    }

    static func expectDecodedIdentical<T: Codable>(
        _ type: T.Type, _ example: Data, _ model: TopicExamplesTests.TopicModel, _ index: Int,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let value = try JSONDecoder().decode(T.self, from: example)
        try expectIdentical(value, "\(model.topic) valid[\(index)]", sourceLocation: sourceLocation)
    }
}

// MARK: - Test types

extension CompactJSONEncoderTests {
    /// Keys encoded in descending order, so every member has to move.
    struct ReversedKeys: Encodable {
        let count: Int
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            for i in (0..<count).reversed() { try c.encode("v\(i)", forKey: AnyKey("k\(i)")) }
        }
    }

    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    struct Widths: Encodable {
        var i8 = Int8.min, i16 = Int16.min, i32 = Int32.min, i64 = Int64.min, i = Int.min
        var u8 = UInt8.max, u16 = UInt16.max, u32 = UInt32.max, u64 = UInt64.max, u = UInt.max
        var zero = 0
    }

    struct FloatBox: Encodable {
        var value: Float
        var values: [Float]
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encode(value, forKey: AnyKey("value"))
            var list = c.nestedUnkeyedContainer(forKey: AnyKey("list"))
            for v in values { try list.encode(v) }
        }
    }

    struct Empty: Encodable {}

    /// Asks for no container at all: JSONEncoder writes `{}` when nested, throws at top level.
    struct EncodesNothing: Encodable {
        func encode(to encoder: any Encoder) throws {}
    }

    struct NestedContainers: Encodable {
        let tag: String
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encode(tag, forKey: AnyKey("tag"))
            var inner = c.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("inner"))
            try inner.encode(2, forKey: AnyKey("two"))
            try inner.encodeNil(forKey: AnyKey("nothing"))
            var deeper = inner.nestedUnkeyedContainer(forKey: AnyKey("deeper"))
            try deeper.encode("d")
            var cell = deeper.nestedContainer(keyedBy: AnyKey.self)
            try cell.encode(true, forKey: AnyKey("z"))
            try cell.encode(false, forKey: AnyKey("a"))
            var row = deeper.nestedUnkeyedContainer()
            try row.encode(1.5)
            try row.encodeNil()
            try c.encode([3, 2, 1], forKey: AnyKey("after"))
            try c.encodeIfPresent(String?.none, forKey: AnyKey("absent"))
            try c.encodeIfPresent(String?.some("here"), forKey: AnyKey("present"))
        }
    }

    /// Requests its keyed container twice, as a type delegating to another's `encode(to:)` does.
    struct TwoContainerRequests: Encodable {
        func encode(to encoder: any Encoder) throws {
            var first = encoder.container(keyedBy: AnyKey.self)
            try first.encode("m", forKey: AnyKey("m"))
            try ClaimCheck(uri: "s3://x/y", sha256: String(repeating: "0", count: 64), bytes: 1, mediaType: "image/png",
                           width: 2, height: 3).encode(to: encoder)
            var second = encoder.container(keyedBy: AnyKey.self)
            try second.encode("a", forKey: AnyKey("a"))
        }
    }

    struct SingleValueWrapper<Inner: Encodable>: Encodable {
        let inner: Inner
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(inner)
        }
    }

    /// Encodes the coding path it is encoded at.
    struct PathProbe: Encodable {
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(encoder.codingPath.map { "\($0.stringValue)/\($0.intValue.map(String.init) ?? "-")" }.joined(separator: "."))
        }
    }

    struct PathHolder: Encodable {
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encode(PathProbe(), forKey: AnyKey("direct"))
            var nested = c.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("nested"))
            try nested.encode(PathProbe(), forKey: AnyKey("probe"))
            try nested.encode(nested.codingPath.map(\.stringValue), forKey: AnyKey("container_path"))
            var list = c.nestedUnkeyedContainer(forKey: AnyKey("list"))
            try list.encode(PathProbe())
            try list.encode(list.codingPath.map(\.stringValue))
            var cell = list.nestedContainer(keyedBy: AnyKey.self)
            try cell.encode(PathProbe(), forKey: AnyKey("cell"))
            try c.encode(c.codingPath.map(\.stringValue), forKey: AnyKey("own_path"))
            try c.encode([Optional(PathProbe()), nil], forKey: AnyKey("optionals"))
        }
    }

    struct RepeatedKey: Encodable {
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encode(1, forKey: AnyKey("b"))
            try c.encode(2, forKey: AnyKey("a"))
            try c.encode(3, forKey: AnyKey("b"))
        }
    }

    class Base: Encodable {
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encode("base", forKey: AnyKey("kind"))
        }
    }

    final class UsesSuperEncoder: Base, @unchecked Sendable {
        override func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encode("derived", forKey: AnyKey("name"))
            try super.encode(to: c.superEncoder())
        }
    }

    /// Writes into a nested container after writing a later sibling, which JSONEncoder's tree allows.
    struct LateNestedWrite: Encodable {
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            var nested = c.nestedContainer(keyedBy: AnyKey.self, forKey: AnyKey("nested"))
            try c.encode(1, forKey: AnyKey("sibling"))
            try nested.encode(2, forKey: AnyKey("late"))
        }
    }

    struct Deep: Encodable {
        let depth: Int
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: AnyKey.self)
            try c.encode(depth, forKey: AnyKey("depth"))
            if depth > 1 { try c.encode(Deep(depth: depth - 1), forKey: AnyKey("next")) }
        }
    }
}
