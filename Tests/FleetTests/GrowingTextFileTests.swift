import FleetSupport
import Foundation
import Testing

@Suite("Reading a log another process is still writing")
struct GrowingTextFileTests {
    @Test("a read that ends inside a multibyte character still gives the text before it; a missing file gives empty text")
    func partialCharacter() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("growing-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: url) }
        // "partitions assigned 分区" with the last character cut after its first byte, as a read can see it mid-write.
        let whole = Array("partitions assigned 分区".utf8)
        try Data(whole.dropLast(2)).write(to: url)
        #expect((try? String(contentsOf: url, encoding: .utf8)) == nil, "the strict read fails for the whole file")
        let text = readGrowingTextFile(url)
        #expect(text.hasPrefix("partitions assigned 分") && text.contains("partitions assigned"))
        #expect(readGrowingTextFile(url.appendingPathExtension("missing")) == "")
    }
}
