/// A strict RFC 8259 parser producing ``JSONValue``.
///
/// Intake parses every submission into a tree; doing that through `Decodable` and a chain
/// of `try?` costs an error allocation per failed guess and ran at a fifth of the speed.
/// This parser also keeps the distinctions the rules need exactly: `true` is never `1`,
/// and an integer literal stays an integer.
struct JSONParser {
    /// Nesting deeper than this is refused rather than risking the stack on hostile input.
    static let maxDepth = 256

    private let bytes: [UInt8]
    private var index = 0
    /// Set when a value sat deeper than ``maxDepth``: the cause ``failure(_:)`` names.
    private var tooDeep = false

    /// A UTF-8 byte order mark before the text is skipped: RFC 8259 §8.1 lets a parser ignore
    /// it (a writer must not add one, but some Java and Windows tools do), and the record is then
    /// what its sender meant, not a dead letter.
    private init(_ bytes: [UInt8]) {
        self.bytes = bytes
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { index = 3 }
    }

    /// Why `bytes` are not one JSON text, in words that quote none of its content (it may carry
    /// personal data): e.g. `nested deeper than 256 levels (600 bytes)`, `unexpected byte 0x27
    /// at byte 12 of 40`, `text ends inside a value (40 bytes)`, `more bytes after the JSON value
    /// at byte 30 of 41`, `empty`. Every text but `empty` states the length exactly once, so a
    /// caller never adds it (a dead-letter cause once said `(80 bytes) (80 bytes)`). `nil` when
    /// they parse. Slow path only: it parses again.
    static func failure(_ bytes: [UInt8]) -> String? {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let length = bytes.count == 1 ? "1 byte" : "\(bytes.count) bytes"
        if parser.index >= bytes.count { return bytes.isEmpty ? "empty" : "no JSON value, only white space or a byte order mark (\(length))" }
        if parser.parseValue(depth: 0) != nil {
            parser.skipWhitespace()
            return parser.index == bytes.count ? nil : "more bytes after the JSON value at byte \(parser.index) of \(bytes.count)"
        }
        if parser.tooDeep { return "nested deeper than \(maxDepth) levels (\(length))" }
        if parser.index >= bytes.count { return "text ends inside a value (\(length))" }
        let byte = bytes[parser.index]
        let shown = byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\"") ? " '\(Character(Unicode.Scalar(byte)))'" : ""
        return "unexpected byte 0x\(String(byte, radix: 16, uppercase: true))\(shown) at byte \(parser.index) of \(bytes.count), or invalid UTF-8 or escape in the string before it"
    }

    /// Parses one complete JSON text (surrounding white space allowed); `nil` if the bytes
    /// are not exactly that, including invalid UTF-8 inside strings.
    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        guard let value = parser.parseValue(depth: 0) else { return nil }
        parser.skipWhitespace()
        return parser.index == bytes.count ? value : nil
    }

    /// ``parse(_:)`` building only the members `selection` names: the others are checked by the
    /// same rules (so exactly the same texts are accepted) but left out of the tree.
    static func parse(_ bytes: [UInt8], selecting selection: JSONSelection) -> JSONValue? {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        guard let value = parser.parseValue(depth: 0, selecting: selection) else { return nil }
        parser.skipWhitespace()
        return parser.index == bytes.count ? value : nil
    }

    // MARK: - Values

    private mutating func parseValue(depth: Int) -> JSONValue? {
        guard depth < Self.maxDepth else { tooDeep = true; return nil }
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"): return parseObject(depth: depth)
        case UInt8(ascii: "["): return parseArray(depth: depth)
        case UInt8(ascii: "\""): return parseString().map(JSONValue.string)
        case UInt8(ascii: "t"): return literal("true", .bool(true))
        case UInt8(ascii: "f"): return literal("false", .bool(false))
        case UInt8(ascii: "n"): return literal("null", .null)
        default: return parseNumber()
        }
    }

    private mutating func parseValue(depth: Int, selecting selection: JSONSelection) -> JSONValue? {
        guard case .members(let wanted) = selection, depth < Self.maxDepth, index < bytes.count,
              bytes[index] == UInt8(ascii: "{") else { return parseValue(depth: depth) }
        return parseObject(depth: depth, wanted: wanted)
    }

    // MARK: - Checking without building

    /// Moves past one value, checking it as ``parseValue(depth:)`` would, without building it:
    /// `true` exactly when `parseValue` would have returned a value.
    private mutating func skipValue(depth: Int) -> Bool {
        guard depth < Self.maxDepth else { tooDeep = true; return false }
        guard index < bytes.count else { return false }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            skipWhitespace()
            if consume(UInt8(ascii: "}")) { return true }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), skipString() else { return false }
                skipWhitespace()
                guard consume(UInt8(ascii: ":")) else { return false }
                skipWhitespace()
                guard skipValue(depth: depth + 1) else { return false }
                skipWhitespace()
                if consume(UInt8(ascii: ",")) { continue }
                return consume(UInt8(ascii: "}"))
            }
        case UInt8(ascii: "["):
            index += 1
            skipWhitespace()
            if consume(UInt8(ascii: "]")) { return true }
            while true {
                skipWhitespace()
                guard skipValue(depth: depth + 1) else { return false }
                skipWhitespace()
                if consume(UInt8(ascii: ",")) { continue }
                return consume(UInt8(ascii: "]"))
            }
        case UInt8(ascii: "\""): return skipString()
        case UInt8(ascii: "t"): return literal("true", .null) != nil
        case UInt8(ascii: "f"): return literal("false", .null) != nil
        case UInt8(ascii: "n"): return literal("null", .null) != nil
        default: return parseNumber() != nil  // numbers are few; the exact rules (finite, 64 bits) stay in one place
        }
    }

    /// Moves past a string: plain ASCII without escapes (keys, codes, links) is only scanned;
    /// anything else goes through ``parseString()`` for the escape and UTF-8 rules.
    private mutating func skipString() -> Bool {
        let start = index
        index += 1  // opening quote
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                index += 1
                return true
            }
            guard byte >= 0x20, byte < 0x80, byte != UInt8(ascii: "\\") else { break }
            index += 1
        }
        index = start
        return parseString() != nil
    }

    private mutating func literal(_ word: StaticString, _ value: JSONValue) -> JSONValue? {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { return nil }
        let matches = word.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        guard matches else { return nil }
        index += count
        return value
    }

    /// - Parameter wanted: `nil` builds every member; otherwise only these, each with its own
    ///   selection, and any other member is checked (``skipValue(depth:)``) and left out.
    private mutating func parseObject(depth: Int, wanted: [String: JSONSelection]? = nil) -> JSONValue? {
        index += 1  // {
        var members: [String: JSONValue] = [:]
        skipWhitespace()
        if consume(UInt8(ascii: "}")) { return .object(members) }
        // Room for a typical object's members at once: growing from empty re-hashed every member
        // at 1, 2, 4 and 8 (~1.5 % of each stage's CPU in `_copyOrMoveAndResize`, perf, issue 14).
        members.reserveCapacity(min(wanted?.count ?? 8, 8))
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\""), let key = parseString() else { return nil }
            skipWhitespace()
            guard consume(UInt8(ascii: ":")) else { return nil }
            skipWhitespace()
            if let wanted {
                if let inner = wanted[key] {
                    guard let value = parseValue(depth: depth + 1, selecting: inner) else { return nil }
                    members[key] = value
                } else {
                    guard skipValue(depth: depth + 1) else { return nil }
                }
            } else {
                guard let value = parseValue(depth: depth + 1) else { return nil }
                members[key] = value  // a repeated key: the last one wins, as in most parsers
            }
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            return consume(UInt8(ascii: "}")) ? .object(members) : nil
        }
    }

    private mutating func parseArray(depth: Int) -> JSONValue? {
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if consume(UInt8(ascii: "]")) { return .array(elements) }
        while true {
            skipWhitespace()
            guard let value = parseValue(depth: depth + 1) else { return nil }
            elements.append(value)
            skipWhitespace()
            if consume(UInt8(ascii: ",")) { continue }
            return consume(UInt8(ascii: "]")) ? .array(elements) : nil
        }
    }

    // MARK: - Strings

    private mutating func parseString() -> String? {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes, so the bytes are the string.
        var highBits: UInt8 = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                // All ASCII (every key, most values) is valid UTF-8 as it stands: `String(decoding:)`
                // is specialised for UTF-8 and skips the generic validation `String(validating:)`
                // does, whose metadata lookups were ~6 % of a stage's decoding (perf, bench-json).
                let value = highBits < 0x80 ? String(decoding: bytes[start..<index], as: UTF8.self)
                                            : String(validating: bytes[start..<index], as: UTF8.self)
                index += 1
                return value
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { return nil }  // control characters must be escaped
            highBits |= byte
            index += 1
        }
        // Slow path: decode escapes into a byte buffer, then validate it as UTF-8 once.
        var buffer = Array(bytes[start..<index])
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: buffer, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): buffer.append(escape)
                case UInt8(ascii: "b"): buffer.append(0x08)
                case UInt8(ascii: "f"): buffer.append(0x0C)
                case UInt8(ascii: "n"): buffer.append(0x0A)
                case UInt8(ascii: "r"): buffer.append(0x0D)
                case UInt8(ascii: "t"): buffer.append(0x09)
                case UInt8(ascii: "u"):
                    guard let scalar = parseUnicodeEscape() else { return nil }
                    buffer.append(contentsOf: Array(String(Character(scalar)).utf8))
                default: return nil
                }
            default:
                if byte < 0x20 { return nil }
                buffer.append(byte)
            }
        }
        return nil  // unterminated
    }

    /// The scalar of `XXXX` (after `\u`), joining a surrogate pair; lone surrogates fail.
    private mutating func parseUnicodeEscape() -> Unicode.Scalar? {
        guard let high = parseHex4() else { return nil }
        if (0xD800...0xDBFF).contains(high) {
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                return nil
            }
            index += 2
            guard let low = parseHex4(), (0xDC00...0xDFFF).contains(low) else { return nil }
            return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        }
        return Unicode.Scalar(high)  // nil for a lone low surrogate
    }

    private mutating func parseHex4() -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt32
            switch byte {
            case 0x30...0x39: digit = UInt32(byte - 0x30)
            case 0x41...0x46: digit = UInt32(byte - 0x41 + 10)
            case 0x61...0x66: digit = UInt32(byte - 0x61 + 10)
            default: return nil
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    // MARK: - Numbers

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; an integer literal that fits in
    /// 64 bits is `.integer`, anything else `.number`.
    private mutating func parseNumber() -> JSONValue? {
        let start = index
        _ = consume(UInt8(ascii: "-"))
        guard index < bytes.count else { return nil }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
        } else {
            guard digits() > 0 else { return nil }
        }
        var isInteger = true
        if consume(UInt8(ascii: ".")) {
            isInteger = false
            guard digits() > 0 else { return nil }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            isInteger = false
            index += 1
            if !consume(UInt8(ascii: "+")) { _ = consume(UInt8(ascii: "-")) }
            guard digits() > 0 else { return nil }
        }
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        if isInteger, let integer = Int64(text) { return .integer(integer) }
        guard let double = Double(text), double.isFinite else { return nil }
        return .number(double)
    }

    private mutating func digits() -> Int {
        let start = index
        while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { index += 1 }
        return index - start
    }

    // MARK: - Helpers

    private mutating func consume(_ byte: UInt8) -> Bool {
        guard index < bytes.count, bytes[index] == byte else { return false }
        index += 1
        return true
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }
}
