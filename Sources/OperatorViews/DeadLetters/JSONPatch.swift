import CardDomain
import Foundation
import JSONCodec

/// A JSON Patch (RFC 6902): `[{"op": "add|remove|replace|move|copy|test", "path": "/a/0/b", "from"?, "value"?}]`,
/// applied in order to a whole document or not at all. Paths are JSON Pointers (RFC 6901:
/// `~1` is `/`, `~0` is `~`; `-` appends to an array in `add`).
///
/// Used by `fleet dlq replay --patch` to repair a dead letter's payload before it is sent again.
struct JSONPatch: Sendable {
    struct Operation: Sendable, Hashable {
        enum Kind: String, Sendable { case add, remove, replace, move, copy, test }
        var kind: Kind
        var path: [String]
        var from: [String]?
        var value: JSONValue?
        /// The pointer as written, for messages and diffs.
        var pathText: String
    }

    /// Why a patch cannot be read or applied; the message names the operation and its path.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    var operations: [Operation]

    /// Reads a patch document.
    /// - Throws: `Failure` when it is not a JSON array of operation objects with the members RFC 6902 requires.
    init(parsing bytes: some Collection<UInt8>) throws {
        guard let document = JSONValue(parsing: bytes), let items = document.arrayValue else {
            throw Failure(description: "a JSON Patch must be a JSON array of operations (RFC 6902)")
        }
        operations = try items.enumerated().map { index, item in
            guard let op = item["op"]?.stringValue, let kind = Operation.Kind(rawValue: op) else {
                throw Failure(description: "operation \(index): op must be add, remove, replace, move, copy or test")
            }
            guard let pathText = item["path"]?.stringValue else { throw Failure(description: "operation \(index): no path") }
            let path = try Self.pointer(pathText, operation: index)
            var from: [String]?
            if kind == .move || kind == .copy {
                guard let fromText = item["from"]?.stringValue else { throw Failure(description: "operation \(index) (\(op)): no from") }
                from = try Self.pointer(fromText, operation: index)
            }
            let value = item.objectValue?["value"]
            if [.add, .replace, .test].contains(kind), value == nil {
                throw Failure(description: "operation \(index) (\(op) \(pathText)): no value")
            }
            return Operation(kind: kind, path: path, from: from, value: value, pathText: pathText)
        }
    }

    /// Applies every operation in order.
    /// - Throws: `Failure` naming the first operation that cannot apply (a missing member, an index
    ///   out of range, a failed `test`); the document is then left as it was.
    func apply(to document: JSONValue) throws -> JSONValue {
        var result = document
        for operation in operations {
            switch operation.kind {
            case .add: result = try Self.add(operation.value!, at: operation.path[...], in: result, op: operation)
            case .remove: result = try Self.remove(at: operation.path[...], in: result, op: operation).document
            case .replace:
                result = try Self.remove(at: operation.path[...], in: result, op: operation).document
                result = try Self.add(operation.value!, at: operation.path[...], in: result, op: operation)
            case .move:
                let (rest, moved) = try Self.remove(at: operation.from![...], in: result, op: operation)
                result = try Self.add(moved, at: operation.path[...], in: rest, op: operation)
            case .copy:
                result = try Self.add(try Self.get(operation.from![...], in: result, op: operation), at: operation.path[...], in: result, op: operation)
            case .test:
                guard try Self.get(operation.path[...], in: result, op: operation) == operation.value else {
                    throw Failure(description: "test \(operation.pathText): the value differs")
                }
            }
        }
        return result
    }

    /// One line per operation, values masked (``Masking/json(_:)``): `replace /applicant/landline: "010-****" → null`.
    func diff(before: JSONValue) -> [String] {
        operations.map { operation in
            // Masked as the field the path names (`/agent/name` → a name), not only by shape.
            let field = operation.path.last
            let old = (try? Self.get(operation.path[...], in: before, op: operation)).map { Self.text(Masking.json($0, field: field)) }
            let new = operation.value.map { Self.text(Masking.json($0, field: field)) }
            switch operation.kind {
            case .add: return "add \(operation.pathText): \(old.map { "\($0) → " } ?? "")\(new ?? "")"
            case .remove: return "remove \(operation.pathText): \(old ?? "?")"
            case .replace: return "replace \(operation.pathText): \(old ?? "?") → \(new ?? "")"
            case .move, .copy: return "\(operation.kind.rawValue) \(Self.pointerText(operation.from ?? [])) → \(operation.pathText)"
            case .test: return "test \(operation.pathText) == \(new ?? "")"
            }
        }
    }

    // MARK: - Pointers

    static func pointer(_ text: String, operation: Int) throws -> [String] {
        if text.isEmpty { return [] }
        guard text.hasPrefix("/") else { throw Failure(description: "operation \(operation): \(text) is not a JSON Pointer (RFC 6901)") }
        return text.dropFirst().split(separator: "/", omittingEmptySubsequences: false).map {
            $0.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
        }
    }

    static func pointerText(_ path: [String]) -> String {
        path.map { "/" + $0.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1") }.joined()
    }

    private static func text(_ value: JSONValue) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "?"
    }

    private static func index(_ token: String, count: Int, allowEnd: Bool, op: Operation) throws -> Int {
        if allowEnd && token == "-" { return count }
        guard let i = Int(token), i >= 0, token == String(i), i < count + (allowEnd ? 1 : 0) else {
            throw Failure(description: "\(op.kind.rawValue) \(op.pathText): \(token) is not an index of an array of \(count)")
        }
        return i
    }

    private static func get(_ path: ArraySlice<String>, in document: JSONValue, op: Operation) throws -> JSONValue {
        guard let token = path.first else { return document }
        switch document {
        case .object(let members):
            guard let member = members[token] else { throw Failure(description: "\(op.kind.rawValue) \(op.pathText): no member \(token)") }
            return try get(path.dropFirst(), in: member, op: op)
        case .array(let elements):
            return try get(path.dropFirst(), in: elements[try index(token, count: elements.count, allowEnd: false, op: op)], op: op)
        default:
            throw Failure(description: "\(op.kind.rawValue) \(op.pathText): \(token) is inside a \(document.typeName)")
        }
    }

    private static func add(_ value: JSONValue, at path: ArraySlice<String>, in document: JSONValue, op: Operation) throws -> JSONValue {
        guard let token = path.first else { return value }
        let last = path.count == 1
        switch document {
        case .object(var members):
            if last { members[token] = value } else {
                guard let member = members[token] else { throw Failure(description: "\(op.kind.rawValue) \(op.pathText): no member \(token)") }
                members[token] = try add(value, at: path.dropFirst(), in: member, op: op)
            }
            return .object(members)
        case .array(var elements):
            let i = try index(token, count: elements.count, allowEnd: last, op: op)
            if last { elements.insert(value, at: i) } else { elements[i] = try add(value, at: path.dropFirst(), in: elements[i], op: op) }
            return .array(elements)
        default:
            throw Failure(description: "\(op.kind.rawValue) \(op.pathText): \(token) is inside a \(document.typeName)")
        }
    }

    private static func remove(at path: ArraySlice<String>, in document: JSONValue, op: Operation) throws -> (document: JSONValue, removed: JSONValue) {
        guard let token = path.first else { throw Failure(description: "\(op.kind.rawValue): the whole document cannot be removed") }
        let last = path.count == 1
        switch document {
        case .object(var members):
            guard let member = members[token] else { throw Failure(description: "\(op.kind.rawValue) \(op.pathText): no member \(token)") }
            if last {
                members[token] = nil
                return (.object(members), member)
            }
            let (inner, removed) = try remove(at: path.dropFirst(), in: member, op: op)
            members[token] = inner
            return (.object(members), removed)
        case .array(var elements):
            let i = try index(token, count: elements.count, allowEnd: false, op: op)
            if last {
                let removed = elements.remove(at: i)
                return (.array(elements), removed)
            }
            let (inner, removed) = try remove(at: path.dropFirst(), in: elements[i], op: op)
            elements[i] = inner
            return (.array(elements), removed)
        default:
            throw Failure(description: "\(op.kind.rawValue) \(op.pathText): \(token) is inside a \(document.typeName)")
        }
    }
}
