import Foundation
import Testing

@testable import JSONCodec

/// The tree decoder answers a model's `decode(String.self, forKey:)` (and Bool, Int, Int64,
/// Int32, Double, their `decodeIfPresent` forms and the single-value forms) with direct
/// implementations, for speed. These must decide exactly as the generic path does: the same
/// value, or the same error at the same coding path.
@Suite("JSON tree: scalar fields decode the same through the direct and the generic path")
struct JSONScalarDecodingTests {
    static let literals = ["1", "-1", "0", "1.0", "1.5", "1e2", "-0", "true", "false", "\"a\"", "\"张\"", "null",
                           "9223372036854775807", "9223372036854775808", "2147483647", "2147483648", "[1]", "{}"]

    private enum Key: String, CodingKey { case v }
    private protocol ProbeMode { static var ifPresent: Bool { get } }
    private enum Required: ProbeMode { static let ifPresent = false }
    private enum IfPresent: ProbeMode { static let ifPresent = true }

    /// `{"v": literal}` through the concrete requirements: `decode({Type}.self, forKey:)`, or
    /// `decodeIfPresent` when `Mode.ifPresent`.
    private struct Direct<T: Decodable & Equatable & Sendable, Mode: ProbeMode>: Decodable, Equatable {
        var value: T?
        init(from decoder: any Decoder) throws {
            if T.self == String.self { try self.init(decoder, String.self, Mode.ifPresent) }
            else if T.self == Bool.self { try self.init(decoder, Bool.self, Mode.ifPresent) }
            else if T.self == Int.self { try self.init(decoder, Int.self, Mode.ifPresent) }
            else if T.self == Int64.self { try self.init(decoder, Int64.self, Mode.ifPresent) }
            else if T.self == Int32.self { try self.init(decoder, Int32.self, Mode.ifPresent) }
            else if T.self == Double.self { try self.init(decoder, Double.self, Mode.ifPresent) }
            else { throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "no probe for \(T.self)")) }
        }
        // Each call below names a concrete type, so the compiler picks the non-generic requirement.
        private init(_ decoder: any Decoder, _ type: String.Type, _ ifPresent: Bool) throws {
            let c = try decoder.container(keyedBy: Key.self)
            value = ifPresent ? try c.decodeIfPresent(String.self, forKey: .v).flatMap { $0 as? T } : try c.decode(String.self, forKey: .v) as? T
        }
        private init(_ decoder: any Decoder, _ type: Bool.Type, _ ifPresent: Bool) throws {
            let c = try decoder.container(keyedBy: Key.self)
            value = ifPresent ? try c.decodeIfPresent(Bool.self, forKey: .v).flatMap { $0 as? T } : try c.decode(Bool.self, forKey: .v) as? T
        }
        private init(_ decoder: any Decoder, _ type: Int.Type, _ ifPresent: Bool) throws {
            let c = try decoder.container(keyedBy: Key.self)
            value = ifPresent ? try c.decodeIfPresent(Int.self, forKey: .v).flatMap { $0 as? T } : try c.decode(Int.self, forKey: .v) as? T
        }
        private init(_ decoder: any Decoder, _ type: Int64.Type, _ ifPresent: Bool) throws {
            let c = try decoder.container(keyedBy: Key.self)
            value = ifPresent ? try c.decodeIfPresent(Int64.self, forKey: .v).flatMap { $0 as? T } : try c.decode(Int64.self, forKey: .v) as? T
        }
        private init(_ decoder: any Decoder, _ type: Int32.Type, _ ifPresent: Bool) throws {
            let c = try decoder.container(keyedBy: Key.self)
            value = ifPresent ? try c.decodeIfPresent(Int32.self, forKey: .v).flatMap { $0 as? T } : try c.decode(Int32.self, forKey: .v) as? T
        }
        private init(_ decoder: any Decoder, _ type: Double.Type, _ ifPresent: Bool) throws {
            let c = try decoder.container(keyedBy: Key.self)
            value = ifPresent ? try c.decodeIfPresent(Double.self, forKey: .v).flatMap { $0 as? T } : try c.decode(Double.self, forKey: .v) as? T
        }
    }

    /// The same through `decode<T>` / `decodeIfPresent<T>`: in a generic context the generic requirement is called.
    private struct Generic<T: Decodable & Equatable & Sendable, Mode: ProbeMode>: Decodable, Equatable {
        var value: T?
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            value = Mode.ifPresent ? try c.decodeIfPresent(T.self, forKey: .v) : try c.decode(T.self, forKey: .v)
        }
    }

    /// A single value through the concrete requirement (`String.self` named) or the generic one.
    private struct SingleDirect<T: Decodable & Equatable & Sendable>: Decodable, Equatable {
        var value: T?
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            switch T.self {
            case is String.Type: value = try c.decode(String.self) as? T
            case is Bool.Type: value = try c.decode(Bool.self) as? T
            case is Int.Type: value = try c.decode(Int.self) as? T
            case is Int64.Type: value = try c.decode(Int64.self) as? T
            case is Int32.Type: value = try c.decode(Int32.self) as? T
            default: value = try c.decode(Double.self) as? T
            }
        }
    }

    private struct SingleGeneric<T: Decodable & Equatable & Sendable>: Decodable, Equatable {
        var value: T?
        init(from decoder: any Decoder) throws { value = try decoder.singleValueContainer().decode(T.self) }
    }

    /// The outcome as comparable text: the value, or the error's kind and path.
    private func outcome<M: Decodable & Equatable>(_ type: M.Type, _ tree: JSONValue) -> String {
        do {
            return "value \(try tree.decode(type))"
        } catch let error as DecodingError {
            switch error {
            case .typeMismatch(_, let context): return "typeMismatch at \(context.codingPath.map(\.stringValue))"
            case .valueNotFound(_, let context): return "valueNotFound at \(context.codingPath.map(\.stringValue))"
            case .keyNotFound(let key, _): return "keyNotFound \(key.stringValue)"
            case .dataCorrupted(let context): return "dataCorrupted at \(context.codingPath.map(\.stringValue))"
            @unknown default: return "unknown"
            }
        } catch {
            return "other \(error)"
        }
    }

    private func check<T: Decodable & Equatable & Sendable>(_ type: T.Type, _ literal: String) throws {
        let keyed = try #require(JSONValue(parsing: Array("{\"v\":\(literal)}".utf8)))
        for (direct, generic) in [(outcome(Direct<T, Required>.self, keyed), outcome(Generic<T, Required>.self, keyed)),
                                  (outcome(Direct<T, IfPresent>.self, keyed), outcome(Generic<T, IfPresent>.self, keyed))] {
            #expect(direct.replacingOccurrences(of: "Direct", with: "") == generic.replacingOccurrences(of: "Generic", with: ""),
                    "\(T.self) from {\"v\":\(literal)}")
        }
        let single = try #require(JSONValue(parsing: Array(literal.utf8)))
        let singleDirect = outcome(SingleDirect<T>.self, single).replacingOccurrences(of: "SingleDirect", with: "")
        let singleGeneric = outcome(SingleGeneric<T>.self, single).replacingOccurrences(of: "SingleGeneric", with: "")
        #expect(singleDirect == singleGeneric, "\(T.self) from \(literal)")
    }

    @Test("String, Bool, Int, Int64, Int32 and Double fields: same value or same error", arguments: literals)
    func sameOutcome(_ literal: String) throws {
        try check(String.self, literal)
        try check(Bool.self, literal)
        try check(Int.self, literal)
        try check(Int64.self, literal)
        try check(Int32.self, literal)
        try check(Double.self, literal)
    }

    @Test("the outcomes themselves: exact numbers only, null is absent for decodeIfPresent, a type mismatch names the field")
    func knownOutcomes() throws {
        let tree = { (literal: String) in JSONValue(parsing: Array("{\"v\":\(literal)}".utf8))! }
        #expect(outcome(Direct<Int, Required>.self, tree("1.0")).contains("value: Optional(1)"))
        #expect(outcome(Direct<Int, Required>.self, tree("1.5")) == "dataCorrupted at [\"v\"]")
        #expect(outcome(Direct<Int32, Required>.self, tree("2147483648")) == "dataCorrupted at [\"v\"]")
        #expect(outcome(Direct<String, Required>.self, tree("1")) == "typeMismatch at [\"v\"]")
        #expect(outcome(Direct<Bool, Required>.self, tree("1")) == "typeMismatch at [\"v\"]")
        #expect(outcome(Direct<String, Required>.self, tree("null")) == "valueNotFound at [\"v\"]")
        #expect(outcome(Direct<String, IfPresent>.self, tree("null")).contains("value: nil"))
        #expect(outcome(Direct<String, IfPresent>.self, JSONValue.object([:])).contains("value: nil"))
    }

    @Test("ASCII and non-ASCII strings: the fast path for ASCII gives the same strings, invalid UTF-8 still fails")
    func asciiFastPath() {
        #expect(JSONValue(parsing: Array("\"plain ascii 123 ~\"".utf8)) == .string("plain ascii 123 ~"))
        #expect(JSONValue(parsing: Array("\"ascii then 张三\"".utf8)) == .string("ascii then 张三"))
        #expect(JSONValue(parsing: [0x22, 0x61, 0xFF, 0x62, 0x22]) == nil)  // one invalid byte among ASCII
        #expect(JSONValue(parsing: [0x22, 0x61, 0x7F, 0x22]) == .string("a\u{7F}"))  // DEL is legal unescaped
    }
}
