import Foundation
import Testing

@testable import CardWorkers

/// Issue 14: reference records decoded once per content, never a stale value, bounded.
@Suite("Decoded reference records memo")
struct DecodedRecordMemoTests {
    private struct Bad: Error {}

    @Test("the same bytes decode once; other bytes (a changed record) decode again; failures are not kept")
    func byContent() throws {
        let memo = DecodedRecordMemo<String>(limit: 10)
        var decodes = 0
        func decode(_ data: Data) throws -> String {
            decodes += 1
            guard let text = String(data: data, encoding: .utf8), text != "bad" else { throw Bad() }
            return text.uppercased()
        }
        #expect(try memo.value(for: Data("a".utf8), decode: decode) == "A")
        #expect(try memo.value(for: Data("a".utf8), decode: decode) == "A")
        #expect(decodes == 1)
        #expect(try memo.value(for: Data("a2".utf8), decode: decode) == "A2")
        #expect(decodes == 2)
        #expect(throws: Bad.self) { try memo.value(for: Data("bad".utf8), decode: decode) }
        #expect(throws: Bad.self) { try memo.value(for: Data("bad".utf8), decode: decode) }
        #expect(decodes == 4)
        #expect(memo.count == 2)
    }

    @Test("past its limit it starts over instead of growing")
    func bounded() throws {
        let memo = DecodedRecordMemo<Int>(limit: 3)
        for i in 0..<10 { _ = try memo.value(for: Data("\(i)".utf8)) { _ in i } }
        #expect(memo.count <= 3)
        #expect(try memo.value(for: Data("9".utf8)) { _ in -1 } == 9)
    }
}
