import Foundation
import Kafka
import Testing

@testable import WorkerRuntime

/// The outbox's and retry table's header blob: files written by earlier builds must read the same,
/// so the bytes are pinned, not only the round trip.
@Suite("Header coding in partition files")
struct HeaderCodingTests {
    @Test("bytes are <u32 BE length><name><u32 BE length><value> per header, in order; none is NULL")
    func pinnedBytes() throws {
        let headers = [KafkaHeader(name: "traceparent", string: "00-ab"), KafkaHeader(name: "名", value: [0, 255])]
        let encoded = try #require(HeaderCoding.encode(headers))
        var expected: [UInt8] = [0, 0, 0, 11] + Array("traceparent".utf8) + [0, 0, 0, 5] + Array("00-ab".utf8)
        expected += [0, 0, 0, 3] + Array("名".utf8) + [0, 0, 0, 2, 0, 255]
        #expect(Array(encoded) == expected)
        #expect(HeaderCoding.encode([]) == nil)
    }

    @Test("decode reads back what encode wrote, empty values and names included")
    func roundTrip() throws {
        let headers = [KafkaHeader(name: "", value: []), KafkaHeader(name: "card-message-id", string: "app-1/status/1"),
                       KafkaHeader(name: "bin", value: Array(0...255))]
        #expect(HeaderCoding.decode(HeaderCoding.encode(headers)) == headers)
        #expect(HeaderCoding.decode(nil) == [])
    }
}
