import Kafka

/// W3C trace context (`traceparent: 00-<trace-id>-<parent-id>-<flags>`) carried in Kafka headers
/// from the submission to the card order, so one application's hops can be stitched together.
///
/// Each stage emits its outputs as a child span of what it received. Ids are derived from the
/// application id and the stage (not random), so a redelivered input yields byte-for-byte the same
/// output, as every emitted message must; a submission without a valid `traceparent` starts a trace
/// whose id derives from its application id.
public enum TraceContext {
    public static let header = "traceparent"

    /// The 32-hex trace id of a valid `traceparent`, or `nil`.
    public static func traceID(of traceparent: String?) -> String? {
        parse(traceparent)?.traceID
    }

    /// The `traceparent` of `stage`'s span for `applicationID`, child of `parent` when it is valid.
    public static func child(of parent: String?, applicationID: String, stage: String) -> String {
        let parsed = parse(parent)
        let traceID = parsed?.traceID ?? hex(fnv1a(applicationID, seed: 0xcbf2_9ce4_8422_2325)) + hex(fnv1a(applicationID, seed: 0x8422_2325_cbf2_9ce4))
        var span = fnv1a("\(applicationID)/\(stage)", seed: 0xcbf2_9ce4_8422_2325)
        if span == 0 { span = 1 }  // an all-zero parent id is invalid
        return "00-\(traceID)-\(hex(span))-\(parsed?.flags ?? "01")"
    }

    /// The header to put on a message.
    static func kafkaHeader(_ traceparent: String?) -> [KafkaHeader] {
        traceparent.map { [KafkaHeader(name: header, string: $0)] } ?? []
    }

    static func parse(_ value: String?) -> (traceID: String, spanID: String, flags: String)? {
        guard let value else { return nil }
        // Every stage parses one per message: ~2.5 % of a worker's CPU through Character-level
        // lowercasing, splitting and hex checks. An ASCII value (all that a valid one can be) is
        // checked on its bytes with the same rules; anything else takes the general path.
        if value.utf8.allSatisfy({ $0 < 0x80 }) { return parseASCII(value) }
        return parseGeneral(value)
    }

    /// ``parse(_:)`` of an ASCII value, byte by byte (ASCII: one Character per byte, except CR LF,
    /// which no hex field can hold either way).
    static func parseASCII(_ value: String) -> (traceID: String, spanID: String, flags: String)? {
        let bytes = Array(value.utf8).map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }  // lowercased, ASCII only
        let parts = bytes.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        func isHex(_ part: ArraySlice<UInt8>) -> Bool {
            part.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
        }
        guard parts.count >= 4, parts[0].elementsEqual("00".utf8) ? parts.count == 4 : true, parts[0].count == 2,
              !parts[0].elementsEqual("ff".utf8), parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
              parts.prefix(4).allSatisfy(isHex),
              parts[1].contains(where: { $0 != 0x30 }), parts[2].contains(where: { $0 != 0x30 }) else { return nil }
        func text(_ part: ArraySlice<UInt8>) -> String { String(decoding: part, as: UTF8.self) }
        return (text(parts[1]), text(parts[2]), text(parts[3]))
    }

    /// The rules on Characters, for any value.
    static func parseGeneral(_ value: String) -> (traceID: String, spanID: String, flags: String)? {
        let parts = value.lowercased().split(separator: "-", omittingEmptySubsequences: false).map(String.init)
        // W3C Trace Context §3.2: version 00 has exactly four fields; a later version may add more after them.
        guard parts.count >= 4, parts[0] != "00" || parts.count == 4, parts[0].count == 2, parts[0] != "ff", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
              parts.prefix(4).allSatisfy({ $0.allSatisfy(\.isHexDigit) }),
              parts[1] != String(repeating: "0", count: 32), parts[2] != String(repeating: "0", count: 16) else { return nil }
        return (parts[1], parts[2], parts[3])
    }

    private static func fnv1a(_ text: String, seed: UInt64) -> UInt64 {
        var hash = seed
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
