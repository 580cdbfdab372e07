import CardDomain
import Foundation
import JSONCodec
import Testing

@testable import OperatorViews

/// `fleet dlq replay --patch`: RFC 6902 operations over RFC 6901 pointers, and diffs that never show personal data.
@Suite("JSON Patch for dead-letter repairs")
struct JSONPatchTests {
    static func patch(_ text: String) throws -> JSONPatch { try JSONPatch(parsing: Array(text.utf8)) }
    static func doc(_ text: String) throws -> JSONValue { try #require(JSONValue(parsing: Array(text.utf8))) }

    @Test("add, remove, replace, move, copy and test, in order, with ~0/~1 escapes and the array end")
    func operations() throws {
        let before = try Self.doc(#"{"a/b": 1, "m~n": [1, 2], "submissionId": "x", "obj": {"k": "v"}}"#)
        let after = try Self.patch(#"""
            [{"op": "test", "path": "/a~1b", "value": 1},
             {"op": "add", "path": "/m~0n/-", "value": 3},
             {"op": "add", "path": "/m~0n/0", "value": 0},
             {"op": "remove", "path": "/a~1b"},
             {"op": "move", "from": "/submissionId", "path": "/submission_id"},
             {"op": "copy", "from": "/obj", "path": "/copy"},
             {"op": "replace", "path": "/obj/k", "value": null}]
            """#).apply(to: before)
        #expect(after == (try Self.doc(#"{"m~n": [0, 1, 2, 3], "submission_id": "x", "obj": {"k": null}, "copy": {"k": "v"}}"#)))
    }

    @Test("an operation that cannot apply names itself, and nothing is applied", arguments: [
        (#"[{"op": "remove", "path": "/missing"}]"#, "no member missing"),
        (#"[{"op": "add", "path": "/list/5", "value": 1}]"#, "not an index of an array of 2"),
        (#"[{"op": "test", "path": "/list/0", "value": 9}]"#, "the value differs"),
        (#"[{"op": "add", "path": "nope", "value": 1}]"#, "is not a JSON Pointer"),
        (#"[{"op": "replace", "path": "/list/0"}]"#, "no value"),
        (#"{"op": "add"}"#, "must be a JSON array"),
    ])
    func failures(_ patchText: String, _ message: String) throws {
        let document = try Self.doc(#"{"list": [1, 2]}"#)
        do {
            _ = try Self.patch(patchText).apply(to: document)
            Issue.record("\(patchText) applied")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test("a diff masks values as the field its path names: names, ID numbers, mobiles, birth dates")
    func diffIsMasked() throws {
        let before = try Self.doc(#"{"agent": {"name": "欧阳娜娜", "id_number": "110105198503072444", "mobile": "13412342458"}, "applicant": {"birth_date": "2015-03-07"}}"#)
        let lines = try Self.patch(#"""
            [{"op": "replace", "path": "/agent/name", "value": "欧阳娜"},
             {"op": "replace", "path": "/agent/id_number", "value": "110105198503072460"},
             {"op": "replace", "path": "/agent/mobile", "value": "13900001111"},
             {"op": "replace", "path": "/applicant/birth_date", "value": "2015-03-08"}]
            """#).diff(before: before)
        let text = lines.joined(separator: "\n")
        for secret in ["欧阳娜娜", "欧阳娜\"", "110105198503072444", "110105198503072460", "13412342458", "13900001111", "03-07", "03-08"] {
            #expect(!text.contains(secret), "\(secret) in \(text)")
        }
        #expect(lines[0] == #"replace /agent/name: "欧***" → "欧**""#)
        #expect(lines[3] == #"replace /applicant/birth_date: "2015-**-**" → "2015-**-**""#)
    }

    @Test("names the identity worker put in an envelope are masked like any name")
    func registeredNamesMasked() throws {
        let masked = Masking.json(try Self.doc(#"{"registered_names": {"agent": "张三", "applicant": "阿依·木拉提"}}"#))
        let text = String(decoding: try JSONEncoder().encode(masked), as: UTF8.self)
        #expect(!text.contains("张三") && !text.contains("木拉提"), "\(text)")
    }
}
