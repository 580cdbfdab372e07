/// A JSON value kept as the bytes it was read as, written back verbatim by ``CompactJSONEncoder``.
///
/// Why: identity and routing pass the whole submission on unchanged inside
/// `card.application.v1`. Re-encoding the decoded `Submission` cost about 7 % of each of
/// those workers' CPU (issue 14); copying its bytes costs nothing measurable. The bytes are
/// the ones the previous stage's ``CompactJSONEncoder`` wrote (compact, keys sorted), so the
/// output is what re-encoding would give, and a redelivered input still yields the same bytes.
///
/// Other encoders (`JSONEncoder`, the fallback) get the parsed value, so they see the same JSON.
public struct RawJSON: Sendable, Hashable, Encodable {
    /// One complete JSON value, UTF-8.
    public let bytes: [UInt8]

    /// The value of member `name` of the JSON object `json`, as written there; the last one when
    /// the key repeats (as ``JSONValue/init(parsing:)`` reads it). `nil` when `json` is not an
    /// object, has no such member, or any of its keys uses an escape (it could spell `name`
    /// differently; the caller then encodes the decoded value instead).
    ///
    /// Only scans, never validates: call it on bytes the strict parser has accepted already.
    public init?(member name: String, ofObject json: [UInt8]) {
        guard let range = Self.memberRange(Array(name.utf8), in: json) else { return nil }
        bytes = Array(json[range])
    }

    /// `value` as ``CardJSON/encodeBytes(_:)`` writes it: the bytes a stage passes on when the
    /// input's own could not be found by ``init(member:ofObject:)``.
    /// - Throws: what the encoder throws.
    public init(encoding value: some Encodable) throws {
        bytes = try CardJSON.encodeBytes(value)
    }

    public func encode(to encoder: any Encoder) throws {
        guard let value = JSONValue(parsing: bytes) else {
            throw EncodingError.invalidValue(bytes, .init(codingPath: encoder.codingPath, debugDescription: "raw bytes are not JSON"))
        }
        try value.encode(to: encoder)
    }

    // MARK: - Scanning

    private static func memberRange(_ name: [UInt8], in json: [UInt8]) -> Range<Int>? {
        var i = skipWhitespace(json, 0)
        guard i < json.count, json[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        var found: Range<Int>?
        while true {
            i = skipWhitespace(json, i)
            guard i < json.count else { return nil }
            if json[i] == UInt8(ascii: "}") { return found }
            guard json[i] == UInt8(ascii: "\""), let keyEnd = stringEnd(json, i) else { return nil }
            let key = json[(i + 1)..<(keyEnd - 1)]
            if key.contains(UInt8(ascii: "\\")) { return nil }
            i = skipWhitespace(json, keyEnd)
            guard i < json.count, json[i] == UInt8(ascii: ":") else { return nil }
            i = skipWhitespace(json, i + 1)
            guard let valueEnd = valueEnd(json, i) else { return nil }
            if key.elementsEqual(name) { found = i..<valueEnd }
            i = skipWhitespace(json, valueEnd)
            guard i < json.count else { return nil }
            if json[i] == UInt8(ascii: ",") { i += 1; continue }
            return json[i] == UInt8(ascii: "}") ? found : nil
        }
    }

    private static func skipWhitespace(_ json: [UInt8], _ start: Int) -> Int {
        var i = start
        while i < json.count, json[i] == 0x20 || json[i] == 0x0A || json[i] == 0x0D || json[i] == 0x09 { i += 1 }
        return i
    }

    /// The index just past the closing quote of the string opening at `start`.
    private static func stringEnd(_ json: [UInt8], _ start: Int) -> Int? {
        var i = start + 1
        while i < json.count {
            switch json[i] {
            case UInt8(ascii: "\\"): i += 2
            case UInt8(ascii: "\""): return i + 1
            default: i += 1
            }
        }
        return nil
    }

    /// The index just past the value starting at `start` (strings skipped whole, so brackets in them do not count).
    private static func valueEnd(_ json: [UInt8], _ start: Int) -> Int? {
        guard start < json.count else { return nil }
        switch json[start] {
        case UInt8(ascii: "\""):
            return stringEnd(json, start)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var i = start
            while i < json.count {
                switch json[i] {
                case UInt8(ascii: "\""):
                    guard let end = stringEnd(json, i) else { return nil }
                    i = end
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return i + 1 }
                default:
                    break
                }
                i += 1
            }
            return nil
        default:
            // A number or a literal: up to the next delimiter.
            var i = start
            while i < json.count, !(json[i] == UInt8(ascii: ",") || json[i] == UInt8(ascii: "}") || json[i] == UInt8(ascii: "]")
                                   || json[i] == 0x20 || json[i] == 0x0A || json[i] == 0x0D || json[i] == 0x09) { i += 1 }
            return i > start ? i : nil
        }
    }
}
