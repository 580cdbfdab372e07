import Foundation
import Testing

@testable import CardDomain
@testable import JSONCodec

@Suite("JSON tree: strict parsing and decoding")
struct JSONValueTests {
    private func parse(_ text: String) -> JSONValue? { JSONValue(parsing: Data(text.utf8)) }

    @Test("scalars keep their kind: true is not 1, integers stay integers")
    func scalars() {
        #expect(parse("true") == .bool(true))
        #expect(parse("1") == .integer(1))
        #expect(parse("-0") == .integer(0))
        #expect(parse("1.5") == .number(1.5))
        #expect(parse("1e3") == .number(1000))
        #expect(parse("9223372036854775808") == .number(9_223_372_036_854_775_808))  // beyond Int64
        #expect(parse("null") == .null)
        #expect(parse(" \"a\" ") == .string("a"))
    }

    @Test("an integer is any number with a zero fraction (JSON Schema's integer), however it is written")
    func integralNumbers() {
        #expect(parse("193486")?.integerValue == 193_486)
        #expect(parse("193486.0")?.integerValue == 193_486)
        #expect(parse("1.93486e5")?.integerValue == 193_486)
        #expect(parse("193486e0")?.integerValue == 193_486)
        #expect(parse("193486.5")?.integerValue == nil)
        #expect(parse("9223372036854775808")?.integerValue == nil)  // beyond Int64
        #expect(parse("true")?.integerValue == nil)
        #expect(parse("\"1\"")?.integerValue == nil)
    }

    @Test("strings: escapes, surrogate pairs and Chinese text")
    func strings() {
        #expect(parse(#""\u5f20\u4e09""#) == .string("张三"))
        #expect(parse(#""\ud83d\ude00""#) == .string("😀"))
        #expect(parse(#""a\"b\\c\/d\n""#) == .string("a\"b\\c/d\n"))
        #expect(parse(#""北京市朝阳区永安里20号""#) == .string("北京市朝阳区永安里20号"))
    }

    @Test("not JSON", arguments: [
        "", "{", "{\"a\":1,}", "[1,]", "01", "1.", ".5", "+1", "tru", "nul", "{'a':1}", "{\"a\" 1}", "[1 2]",
        "\"\\ud83d\"", "\"\\x\"", "\"tab\there\"", "NaN", "Infinity", "{} {}", "\"unterminated",
    ])
    func rejects(_ text: String) {
        #expect(parse(text) == nil)
    }

    @Test("why not JSON, in words that quote nothing of the text", arguments: [
        ("", "empty"),
        ("  ", "no JSON value, only white space or a byte order mark (2 bytes)"),
        ("{", "text ends inside a value (1 byte)"),
        ("[1,", "text ends inside a value (3 bytes)"),
        ("{} {}", "more bytes after the JSON value at byte 3 of 5"),
        ("{'a':1}", "unexpected byte 0x27 ''' at byte 1 of 7"),
        ("[1 2]", "unexpected byte 0x32 '2' at byte 3 of 5"),
        (String(repeating: "[", count: 300) + String(repeating: "]", count: 300), "nested deeper than 256 levels (600 bytes)"),
        (#"{"a":{"b":"#  + String(repeating: "[", count: 600), "nested deeper than 256 levels (610 bytes)"),
    ])
    func failureCause(_ text: String, _ cause: String) {
        #expect(JSONValue.parseFailure(Array(text.utf8))?.hasPrefix(cause) == true, "\(JSONValue.parseFailure(Array(text.utf8)) ?? "parses")")
        #expect(JSONValue(parsing: Array(text.utf8)) == nil)
        #expect(JSONValue.parseFailure(Array(#"{"a":[1,2]}"#.utf8)) == nil, "nil when it parses")
    }

    @Test("a leading UTF-8 byte order mark is ignored (RFC 8259 §8.1); anywhere else it is not JSON")
    func byteOrderMark() {
        let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
        #expect(JSONValue(parsing: bom + Array(#"{"a":1}"#.utf8)) == .object(["a": .integer(1)]))
        #expect(JSONValue(parsing: bom + Array(#"{"a":1}"#.utf8), selecting: .members(["a": .all])) == .object(["a": .integer(1)]))
        #expect(JSONValue(parsing: Array(" ".utf8) + bom + Array("1".utf8)) == nil)
        #expect(JSONValue(parsing: bom + bom + Array("1".utf8)) == nil)
    }

    @Test("invalid UTF-8 inside a string is not JSON")
    func invalidUTF8() {
        #expect(JSONValue(parsing: [0x22, 0xC3, 0x28, 0x22]) == nil)
        #expect(JSONValue(parsing: [0x22, 0xE5, 0xBC, 0xA0, 0x22]) == .string("张"))
    }

    @Test("hostile nesting is refused, not a stack overflow")
    func deepNesting() {
        #expect(parse(String(repeating: "[", count: 100_000)) == nil)
        #expect(parse(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)) != nil)
    }

    @Test("the tree decoder matches JSONDecoder on the contract example")
    func treeDecoderMatchesJSONDecoder() throws {
        let data = Data(Fixtures.sampleJSON.utf8)
        let viaTree = try CardJSON.decode(Submission.self, from: data)
        let viaFoundation = try JSONDecoder().decode(Submission.self, from: data)
        #expect(viaTree == viaFoundation)
    }

    @Test("tree decoding errors carry the field path, which intake turns into SCHEMA_INVALID")
    func treeDecoderErrorPath() throws {
        var tree = Fixtures.sample()
        tree[path: "documents.photo.width"] = "wide"
        #expect(IntakeValidator.path(of: DecodingErrorBox.capture { try tree.decode(Submission.self) }) == "documents.photo.width")
        tree = Fixtures.sample()
        tree[path: "card.functions"] = [1]
        #expect(IntakeValidator.path(of: DecodingErrorBox.capture { try tree.decode(Submission.self) }) == "card.functions[0]")
        tree = Fixtures.sample()
        tree[path: "applicant.birth_date"] = nil
        #expect(IntakeValidator.path(of: DecodingErrorBox.capture { try tree.decode(Submission.self) }) == "applicant.birth_date")
    }

    @Test("CardJSON encodes with sorted keys and unescaped slashes, so re-emission is byte-identical")
    func encoder() throws {
        let closed = ApplicationClosed(
            applicationID: "a/b", applicantIDNumber: Fixtures.applicantID, status: .rejected,
            at: try #require(Timestamp(rfc3339: "2026-11-25T10:15:00+08:00")))
        let text = String(decoding: try CardJSON.encode(closed), as: UTF8.self)
        #expect(text == #"{"applicant_id_number":"110105201503070013","application_id":"a/b","at":"2026-11-25T10:15:00+08:00","schema":"card.application-closed.v1","status":"rejected"}"#)
        #expect(try CardJSON.encode(closed) == CardJSON.encode(CardJSON.decode(ApplicationClosed.self, from: CardJSON.encode(closed))))
    }
}

/// Runs a throwing closure and returns the error it threw (or a placeholder).
enum DecodingErrorBox {
    struct DidNotThrow: Error {}
    static func capture(_ body: () throws -> Any) -> any Error {
        do {
            _ = try body()
            return DidNotThrow()
        } catch {
            return error
        }
    }
}
