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

    private static func parse(_ value: String?) -> (traceID: String, spanID: String, flags: String)? {
        guard let value else { return nil }
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
