import Foundation

/// Encodes `Encodable` values as compact UTF-8 JSON with sorted keys, byte for byte what
/// Foundation's `JSONEncoder` writes with `[.sortedKeys, .withoutEscapingSlashes]` and its
/// default strategies.
///
/// `JSONEncoder` builds a tree of boxed values and dictionaries, then sorts and serialises
/// it; with sorted keys that cost about a fifth of a worker's CPU. This encoder writes into
/// one byte buffer as the value encodes itself: each object's members go out in the order
/// they are encoded, and when the object ends, its members are reordered in place if their
/// keys were not already sorted. What it reproduces from Foundation (swift-foundation's
/// `JSONEncoder` and `JSONWriter`):
///
/// - keys sorted by their UTF-8 bytes (`"B" < "_" < "a"`, `"a10" < "a9"`), the last value
///   winning for a repeated key;
/// - strings escaping only `"`, `\` and U+0000–U+001F (`\b \t \n \f \r`, else `\u00xx`);
///   `/`, U+007F, U+2028 and all other non-ASCII characters written as raw UTF-8;
/// - integers in decimal; `Float`/`Double` as their `description` without a trailing `.0`;
/// - `Data` as base64, `URL` as its `absoluteString`, `Decimal` as a bare number, `Date` as
///   what it encodes itself (seconds since 2001 as a number);
/// - a nested value that encodes nothing as `{}`.
///
/// Anything it cannot mirror exactly with a single buffer — a repeated key, a container used
/// again after a later sibling was written, `superEncoder`, a non-finite float, a top-level
/// value that encodes nothing, nesting deeper than 256 containers — makes it start over with
/// `JSONEncoder` itself, so the output (or the error) is always Foundation's.
public struct CompactJSONEncoder: Sendable {
    public init() {}

    /// Encodes `value` as compact JSON with sorted keys.
    /// - Throws: what `JSONEncoder` throws for the value: the value's own errors, or
    ///   `EncodingError.invalidValue` for a non-finite float or a top level without a value.
    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = CompactJSONEncoderState()
        do {
            try encoder.encodeTopLevel(value)
            if !encoder.needsFallback { return encoder.bytes }
        } catch {
            // A value's own error is Foundation's error too; ours only asks for the fallback.
            if !encoder.needsFallback { throw error }
        }
        return Array(try Self.foundationEncoder().encode(value))
    }

    /// Encodes `value` without the Foundation fallback: for tests and benchmarks that must
    /// know the fast path produced the bytes.
    /// - Throws: ``CompactJSONEncoderFallback`` where ``encode(_:)`` would fall back, or the
    ///   value's own error.
    public func encodeWithoutFallback<T: Encodable>(_ value: T) throws -> [UInt8] {
        let encoder = CompactJSONEncoderState()
        try encoder.encodeTopLevel(value)
        if encoder.needsFallback { throw CompactJSONEncoderFallback() }
        return encoder.bytes
    }

    /// The Foundation encoder whose output this one reproduces.
    static func foundationEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// Thrown inside the encoder when it has to hand the value over to `JSONEncoder`; seen
/// outside only from ``CompactJSONEncoder/encodeWithoutFallback(_:)``.
public struct CompactJSONEncoderFallback: Error {}

// MARK: - State

/// One encoding run: the output buffer and the stack of open containers. It is also the
/// `Encoder` every value of the run sees, since values encode strictly nested.
final class CompactJSONEncoderState: Encoder {
    /// An open object or array: where it starts in `output` and what it holds so far.
    struct Frame {
        var id: Int
        var isObject: Bool
        /// Offset of its `{` or `[`.
        var start: Int
        var count: Int
        /// Index in `members` of its first member (objects only).
        var firstMember: Int
        /// Whether the keys written so far are strictly increasing.
        var sorted: Bool
        /// Its coding path is `path[pathStart..<pathCount]`.
        var pathStart: Int
        var pathCount: Int
    }

    /// An object member written into `output`: `"key":value`, the value running to the next
    /// member's comma or to the end of the object.
    struct Member {
        /// Offset of the key's opening quote.
        var start: Int
        /// Bytes between the key's quotes, as written.
        var keyLength: Int
        /// For a key that needed escapes (its written bytes do not sort like the key): its
        /// index in `escapedKeys`; -1 otherwise.
        var escapedKey: Int
    }

    /// What a value being encoded has asked for so far.
    enum SlotState: Equatable {
        case empty
        case single
        case container(id: Int, isObject: Bool)
    }

    /// One value being encoded: the containers above `frameBase` are its own.
    struct Slot {
        var frameBase: Int
        /// The encoder's coding path while this value encodes: `path[pathStart..<pathEnd]`.
        var pathStart: Int
        var pathEnd: Int
        var state: SlotState
    }

    static let maxDepth = 256

    // Dynamic exclusivity checks on these class properties cost about as much as the encoding
    // itself (every access is a begin/end through thread-local storage). They are safe to turn
    // off: one run's state never leaves its thread, and no method here modifies a property
    // while another access to the same property is in progress.
    /// Sized for the largest message the workers emit (an envelope, about 3 KB) to grow rarely.
    @exclusivity(unchecked) var output = CompactJSONBuffer(capacity: 4096)
    @exclusivity(unchecked) var frames: [Frame] = []
    @exclusivity(unchecked) var members: [Member] = []
    @exclusivity(unchecked) var escapedKeys: [String] = []
    @exclusivity(unchecked) var slots: [Slot] = []
    @exclusivity(unchecked) var path: [any CodingKey] = []
    /// Reused when an object's members are reordered.
    @exclusivity(unchecked) var scratch = CompactJSONBuffer(capacity: 0)
    @exclusivity(unchecked) var order: [Int] = []
    @exclusivity(unchecked) var nextFrameID = 0
    @exclusivity(unchecked) var needsFallback = false

    init() {
        frames.reserveCapacity(8)
        members.reserveCapacity(32)
        slots.reserveCapacity(8)
        path.reserveCapacity(8)
    }

    deinit {
        output.deallocate()
        scratch.deallocate()
    }

    /// The bytes written so far.
    var bytes: [UInt8] { output.array }

    /// Gives up on the fast path; the caller starts over with `JSONEncoder`.
    func fallback() -> CompactJSONEncoderFallback {
        needsFallback = true
        return CompactJSONEncoderFallback()
    }

    // MARK: Encoder

    var codingPath: [any CodingKey] {
        guard let slot = slots.last else { return [] }
        return Array(path[slot.pathStart..<slot.pathEnd])
    }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        let (index, id) = openSlotContainer(isObject: true)
        return KeyedEncodingContainer(CompactKeyedContainer<Key>(encoder: self, index: index, id: id))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        let (index, id) = openSlotContainer(isObject: false)
        return CompactUnkeyedContainer(encoder: self, index: index, id: id)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        CompactSingleValueContainer(encoder: self, slot: slots.count - 1)
    }

    // MARK: Values

    func encodeTopLevel<T: Encodable>(_ value: T) throws {
        if try writeDirect(value) { return }
        slots.append(Slot(frameBase: 0, pathStart: 0, pathEnd: 0, state: .empty))
        try value.encode(to: self)
        let slot = slots.removeLast()
        // JSONEncoder throws "did not encode any values"; let it say so.
        guard slot.state != .empty else { throw fallback() }
        while !frames.isEmpty { try closeTopFrame() }
    }

    /// Writes a nested value at the current position.
    ///
    /// The value's coding path is its parent value's path plus `key`: like JSONEncoder, it
    /// leaves out the keys of nested containers the value sits in (their own `codingPath`
    /// has them). The key is an existential rather than a generic parameter: `Optional<Key>`
    /// would cost a metadata lookup on every call.
    func encodeValue<T: Encodable>(_ value: T, key: (any CodingKey)?) throws {
        if try writeDirect(value) { return }
        let pathBase = path.count
        var pathStart = 0
        if let parent = slots.last {
            pathStart = parent.pathStart
            if pathBase != parent.pathEnd {
                // Nested container keys sit on top of the parent's path: start a copy without them.
                pathStart = pathBase
                path.append(contentsOf: Array(path[parent.pathStart..<parent.pathEnd]))
            }
        }
        if let key { path.append(key) }
        slots.append(Slot(frameBase: frames.count, pathStart: pathStart, pathEnd: path.count, state: .empty))
        try value.encode(to: self)
        let slot = slots.removeLast()
        while frames.count > slot.frameBase { try closeTopFrame() }
        if path.count > pathBase { path.removeLast(path.count - pathBase) }
        // JSONEncoder writes a value that encoded nothing as an empty object.
        if slot.state == .empty { output.append("{}") }
    }

    /// Writes the common leaves, and the types JSONEncoder treats specially, without a
    /// trip through `encode(to:)`; `false` for anything else.
    @inline(__always)
    func writeDirect<T: Encodable>(_ value: T) throws -> Bool {
        if T.self == String.self {
            writeString(unsafeBitCast(value, to: String.self))
        } else if T.self == Int.self {
            writeInteger(unsafeBitCast(value, to: Int.self))
        } else if T.self == Bool.self {
            writeBool(unsafeBitCast(value, to: Bool.self))
        } else if T.self == Int64.self {
            writeInteger(unsafeBitCast(value, to: Int64.self))
        } else if T.self == Double.self {
            try writeFloat(unsafeBitCast(value, to: Double.self))
        } else if T.self == Data.self {
            writeString((value as! Data).base64EncodedString())
        } else if T.self == URL.self {
            writeString((value as! URL).absoluteString)
        } else if T.self == Decimal.self {
            output.append((value as! Decimal).description)
        } else if T.self == RawJSON.self {
            // Bytes a CompactJSONEncoder wrote before: already compact with sorted keys.
            unsafeBitCast(value, to: RawJSON.self).bytes.withUnsafeBytes { output.append($0) }
        } else {
            return false
        }
        return true
    }

    // MARK: Containers

    /// The container a value asks its encoder for: opened on first request, the same one
    /// again on the next (as JSONEncoder does).
    func openSlotContainer(isObject: Bool) -> (index: Int, id: Int) {
        guard !needsFallback, let slot = slots.last else {
            _ = fallback()
            return (-1, -1)
        }
        switch slot.state {
        case .empty:
            guard frames.count == slot.frameBase, frames.count < Self.maxDepth else { break }
            let id = openFrame(isObject: isObject, pathStart: slot.pathStart, pathCount: slot.pathEnd)
            slots[slots.count - 1].state = .container(id: id, isObject: isObject)
            return (frames.count - 1, id)
        case .container(let id, let wasObject) where wasObject == isObject:
            if frames.count > slot.frameBase, frames[slot.frameBase].id == id { return (slot.frameBase, id) }
        default:
            break
        }
        _ = fallback()
        return (-1, -1)
    }

    /// Pushes a new object or array and writes its opening bracket; returns its id.
    func openFrame(isObject: Bool, pathStart: Int, pathCount: Int) -> Int {
        nextFrameID += 1
        frames.append(Frame(id: nextFrameID, isObject: isObject, start: output.count, count: 0,
                            firstMember: members.count, sorted: true, pathStart: pathStart, pathCount: pathCount))
        output.append(isObject ? UInt8(ascii: "{") : UInt8(ascii: "["))
        return nextFrameID
    }

    /// Makes the container at `index` the one being written: it must be open and belong to
    /// the value being encoded; containers nested in it are finished first.
    @inline(__always)
    func prepareWrite(index: Int, id: Int) throws {
        guard !needsFallback, index >= 0, index < frames.count, frames[index].id == id,
              let current = slots.last, index >= current.frameBase else { throw fallback() }
        if frames.count > index + 1 {
            while frames.count > index + 1 { try closeTopFrame() }
            let pathCount = frames[index].pathCount
            if path.count > pathCount { path.removeLast(path.count - pathCount) }
        }
    }

    /// Starts the next member of the object at `index` (after ``prepareWrite(index:id:)``):
    /// the separator, the key and the colon.
    func beginMember(index: Int, key: String) {
        let count = frames[index].count
        if count > 0 { output.append(UInt8(ascii: ",")) }
        let start = output.count
        var member = Member(start: start, keyLength: 0, escapedKey: -1)
        if writeString(key) {
            member.escapedKey = escapedKeys.count
            escapedKeys.append(key)
        }
        member.keyLength = output.count - start - 2
        output.append(UInt8(ascii: ":"))
        if count > 0, frames[index].sorted, !precedes(members[members.count - 1], member) {
            frames[index].sorted = false
        }
        members.append(member)
        frames[index].count = count + 1
    }

    /// Starts the next element of the array at `index` (after ``prepareWrite(index:id:)``).
    @inline(__always)
    func beginElement(index: Int) {
        if frames[index].count > 0 { output.append(UInt8(ascii: ",")) }
        frames[index].count += 1
    }

    /// Opens a container nested in the container at `index` as its next member (`key`) or
    /// element; a fallback (and a dead container) if the parent is not writable.
    func openNested(in index: Int, id: Int, key: String?, pathKey: any CodingKey, isObject: Bool) -> (index: Int, id: Int) {
        do {
            try prepareWrite(index: index, id: id)
        } catch {
            return (-1, -1)
        }
        guard frames.count < Self.maxDepth else {
            _ = fallback()
            return (-1, -1)
        }
        if let key { beginMember(index: index, key: key) } else { beginElement(index: index) }
        path.append(pathKey)
        let nestedID = openFrame(isObject: isObject, pathStart: frames[index].pathStart, pathCount: path.count)
        return (frames.count - 1, nestedID)
    }

    func containerPath(index: Int, id: Int) -> [any CodingKey] {
        guard index >= 0, index < frames.count, frames[index].id == id else { return codingPath }
        return Array(path[frames[index].pathStart..<frames[index].pathCount])
    }

    /// Finishes the innermost open container: sorts an object's members, closes the bracket.
    func closeTopFrame() throws {
        let frame = frames.removeLast()
        guard frame.isObject else {
            output.append(UInt8(ascii: "]"))
            return
        }
        if !frame.sorted { try sortMembers(of: frame) }
        members.removeLast(members.count - frame.firstMember)
        output.append(UInt8(ascii: "}"))
    }

    /// Rewrites an object's members in key order; a repeated key falls back (JSONEncoder
    /// keeps the last value, or merges nested containers).
    func sortMembers(of frame: Frame) throws {
        let first = frame.firstMember
        let end = members.count
        order.removeAll(keepingCapacity: true)
        if end - first <= 16 {
            // Insertion sort: few members, often nearly sorted.
            for m in first..<end {
                var j = order.count
                order.append(m)
                while j > 0, precedes(members[m], members[order[j - 1]]) {
                    order[j] = order[j - 1]
                    j -= 1
                }
                order[j] = m
                if j > 0, !precedes(members[order[j - 1]], members[m]) { throw fallback() }
            }
        } else {
            order.append(contentsOf: first..<end)
            order.sort { precedes(members[$0], members[$1]) }
            for k in 1..<order.count where !precedes(members[order[k - 1]], members[order[k]]) {
                throw fallback()
            }
        }

        // The members keep their bytes and the commas their number, so the sorted content
        // fills exactly the region it came from.
        let contentStart = frame.start + 1
        let contentEnd = output.count
        scratch.removeAll()
        scratch.append(UnsafeRawBufferPointer(start: output.base + contentStart, count: contentEnd - contentStart))
        var position = contentStart
        for (k, m) in order.enumerated() {
            let from = members[m].start - contentStart
            // A member runs to the comma before the next one, the last to the end.
            let to = m + 1 < end ? members[m + 1].start - 1 - contentStart : contentEnd - contentStart
            if k > 0 {
                output.base[position] = UInt8(ascii: ",")
                position += 1
            }
            (output.base + position).update(from: scratch.base + from, count: to - from)
            position += to - from
        }
    }

    /// Whether member `a`'s key sorts strictly before `b`'s by UTF-8 bytes: compared where
    /// they are written, unless one needed escapes.
    @inline(__always)
    func precedes(_ a: Member, _ b: Member) -> Bool {
        guard a.escapedKey < 0, b.escapedKey < 0 else { return keyBytes(a).lexicographicallyPrecedes(keyBytes(b)) }
        let left = output.base + a.start + 1
        let right = output.base + b.start + 1
        let common = min(a.keyLength, b.keyLength)
        var i = 0
        while i < common {
            if left[i] != right[i] { return left[i] < right[i] }
            i += 1
        }
        return a.keyLength < b.keyLength
    }

    /// A member's key as UTF-8 bytes (the slow path, for escaped keys).
    func keyBytes(_ member: Member) -> [UInt8] {
        if member.escapedKey >= 0 { return Array(escapedKeys[member.escapedKey].utf8) }
        return Array(UnsafeBufferPointer(start: output.base + member.start + 1, count: member.keyLength))
    }

    // MARK: Leaves

    @inline(__always)
    func writeNull() { output.append("null") }

    @inline(__always)
    func writeBool(_ value: Bool) { value ? output.append("true") : output.append("false") }

    func writeInteger<I: FixedWidthInteger>(_ value: I) {
        guard I.bitWidth <= 64 else {
            output.append(value.description)
            return
        }
        let magnitude = UInt64(truncatingIfNeeded: value.magnitude)
        var digits = 1
        var rest = magnitude
        while rest >= 10 {
            rest /= 10
            digits += 1
        }
        output.reserve(digits + 1)
        if value < 0 { output.append(UInt8(ascii: "-")) }
        var remaining = magnitude
        var position = output.count + digits
        repeat {
            position -= 1
            output.base[position] = UInt8(truncatingIfNeeded: remaining % 10) &+ UInt8(ascii: "0")
            remaining /= 10
        } while remaining != 0
        output.count += digits
    }

    /// JSONEncoder's float format: `description` without a trailing `.0`; NaN and the
    /// infinities fall back so JSONEncoder throws its own error.
    func writeFloat<F: BinaryFloatingPoint & CustomStringConvertible>(_ value: F) throws {
        guard value.isFinite else { throw fallback() }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        output.append(text)
    }

    /// Writes a quoted, escaped string; returns whether anything needed an escape.
    @discardableResult
    func writeString(_ string: String) -> Bool {
        if let escaped = string.utf8.withContiguousStorageIfAvailable({ writeQuoted($0) }) { return escaped }
        var copy = string
        return copy.withUTF8 { writeQuoted($0) }
    }

    func writeQuoted(_ utf8: UnsafeBufferPointer<UInt8>) -> Bool {
        output.append(UInt8(ascii: "\""))
        guard let text = utf8.baseAddress, !utf8.isEmpty else {
            output.append(UInt8(ascii: "\""))
            return false
        }
        let count = utf8.count
        var escaped = false
        var mark = 0
        var i = 0
        while true {
            // Skip 8 clean bytes at a time, then find the byte that needs an escape.
            while i + 8 <= count, !Self.anyNeedsEscape(UnsafeRawPointer(text + i).loadUnaligned(as: UInt64.self)) {
                i += 8
            }
            while i < count, !Self.needsEscape(text[i]) { i += 1 }
            if i == count { break }
            if i > mark { output.append(UnsafeRawBufferPointer(start: text + mark, count: i - mark)) }
            escaped = true
            let byte = text[i]
            switch byte {
            case UInt8(ascii: "\""): output.append("\\\"")
            case UInt8(ascii: "\\"): output.append("\\\\")
            case 0x08: output.append("\\b")
            case 0x09: output.append("\\t")
            case 0x0A: output.append("\\n")
            case 0x0C: output.append("\\f")
            case 0x0D: output.append("\\r")
            default:
                output.append("\\u00")
                output.append(Self.hexDigit(byte >> 4))
                output.append(Self.hexDigit(byte & 0xF))
            }
            i += 1
            mark = i
        }
        if mark < count { output.append(UnsafeRawBufferPointer(start: text + mark, count: count - mark)) }
        output.append(UInt8(ascii: "\""))
        return escaped
    }

    /// `"`, `\` and the control characters below U+0020; everything else is written as is.
    @inline(__always)
    static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// Whether any of 8 bytes needs an escape: the classic "has a byte less than n" and
    /// "has a zero byte" bit tricks, exact about whether such a byte exists.
    @inline(__always)
    static func anyNeedsEscape(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let control = (word &- ones &* 0x20) & ~word & highs
        let quote = word ^ (ones &* 0x22)
        let backslash = word ^ (ones &* 0x5C)
        let quotes = (quote &- ones) & ~quote & highs
        let backslashes = (backslash &- ones) & ~backslash & highs
        return (control | quotes | backslashes) != 0
    }

    @inline(__always)
    static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") &+ value : UInt8(ascii: "a") &+ value &- 10
    }
}

/// A growable byte buffer for one encoding run: appends without `Array`'s uniqueness check,
/// and in-place rewrites when an object's members are sorted. Its owner deallocates it.
struct CompactJSONBuffer {
    private(set) var base: UnsafeMutablePointer<UInt8>
    var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    func deallocate() { base.deallocate() }

    var array: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// Makes room for `extra` more bytes.
    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if count + extra > capacity { grow(to: count + extra) }
    }

    mutating func grow(to needed: Int) {
        var newCapacity = capacity * 2
        while newCapacity < needed { newCapacity *= 2 }
        let newBase = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        newBase.initialize(from: base, count: count)
        base.deallocate()
        base = newBase
        capacity = newCapacity
    }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        guard let source = bytes.baseAddress, !bytes.isEmpty else { return }
        reserve(bytes.count)
        UnsafeMutableRawPointer(base + count).copyMemory(from: source, byteCount: bytes.count)
        count += bytes.count
    }

    @inline(__always)
    mutating func append(_ text: StaticString) {
        append(UnsafeRawBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append(UnsafeRawBufferPointer($0)) }
    }

    mutating func removeAll() { count = 0 }
}

/// The coding key of an array element, as JSONEncoder names it.
struct CompactJSONIndexKey: CodingKey {
    let index: Int
    init(index: Int) { self.index = index }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.index = intValue }
    var stringValue: String { "Index \(index)" }
    var intValue: Int? { index }
}

// MARK: - Keyed container

struct CompactKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let encoder: CompactJSONEncoderState
    let index: Int
    let id: Int

    var codingPath: [any CodingKey] { encoder.containerPath(index: index, id: id) }

    @inline(__always)
    private func begin(_ key: Key) throws {
        try encoder.prepareWrite(index: index, id: id)
        encoder.beginMember(index: index, key: key.stringValue)
    }

    mutating func encodeNil(forKey key: Key) throws {
        try begin(key)
        encoder.writeNull()
    }

    mutating func encode(_ value: Bool, forKey key: Key) throws {
        try begin(key)
        encoder.writeBool(value)
    }

    mutating func encode(_ value: String, forKey key: Key) throws {
        try begin(key)
        encoder.writeString(value)
    }

    mutating func encode(_ value: Double, forKey key: Key) throws {
        try begin(key)
        try encoder.writeFloat(value)
    }

    mutating func encode(_ value: Float, forKey key: Key) throws {
        try begin(key)
        try encoder.writeFloat(value)
    }

    mutating func encode(_ value: Int, forKey key: Key) throws { try begin(key); encoder.writeInteger(value) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { try begin(key); encoder.writeInteger(value) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { try begin(key); encoder.writeInteger(value) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { try begin(key); encoder.writeInteger(value) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { try begin(key); encoder.writeInteger(value) }
    mutating func encode(_ value: Int128, forKey key: Key) throws { try begin(key); encoder.writeInteger(value) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { try begin(key); encoder.writeInteger(value) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { try begin(key); encoder.writeInteger(value) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { try begin(key); encoder.writeInteger(value) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { try begin(key); encoder.writeInteger(value) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { try begin(key); encoder.writeInteger(value) }
    mutating func encode(_ value: UInt128, forKey key: Key) throws { try begin(key); encoder.writeInteger(value) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        try begin(key)
        try encoder.encodeValue(value, key: key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(
        keyedBy keyType: NestedKey.Type, forKey key: Key
    ) -> KeyedEncodingContainer<NestedKey> {
        let (nested, nestedID) = encoder.openNested(in: index, id: id, key: key.stringValue, pathKey: key, isObject: true)
        return KeyedEncodingContainer(CompactKeyedContainer<NestedKey>(encoder: encoder, index: nested, id: nestedID))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let (nested, nestedID) = encoder.openNested(in: index, id: id, key: key.stringValue, pathKey: key, isObject: false)
        return CompactUnkeyedContainer(encoder: encoder, index: nested, id: nestedID)
    }

    // JSONEncoder inserts a super encoder's value when that encoder is released, which a
    // single forward buffer cannot mirror.
    mutating func superEncoder() -> any Encoder {
        _ = encoder.fallback()
        return encoder
    }

    mutating func superEncoder(forKey key: Key) -> any Encoder {
        _ = encoder.fallback()
        return encoder
    }
}

// MARK: - Unkeyed container

struct CompactUnkeyedContainer: UnkeyedEncodingContainer, CompactScalarWriting {
    let encoder: CompactJSONEncoderState
    let index: Int
    let id: Int

    var codingPath: [any CodingKey] { encoder.containerPath(index: index, id: id) }

    var count: Int {
        guard index >= 0, index < encoder.frames.count, encoder.frames[index].id == id else { return 0 }
        return encoder.frames[index].count
    }

    @inline(__always)
    func begin() throws {
        try encoder.prepareWrite(index: index, id: id)
        encoder.beginElement(index: index)
    }


    // Here, not in `CompactScalarWriting`: the standard library has defaults for the 128-bit
    // integers, and a second default would be ambiguous.
    mutating func encode(_ value: Int128) throws { try begin(); encoder.writeInteger(value) }
    mutating func encode(_ value: UInt128) throws { try begin(); encoder.writeInteger(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let position = count
        try begin()
        try encoder.encodeValue(value, key: CompactJSONIndexKey(index: position))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let pathKey = CompactJSONIndexKey(index: count)
        let (nested, nestedID) = encoder.openNested(in: index, id: id, key: nil, pathKey: pathKey, isObject: true)
        return KeyedEncodingContainer(CompactKeyedContainer<NestedKey>(encoder: encoder, index: nested, id: nestedID))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let pathKey = CompactJSONIndexKey(index: count)
        let (nested, nestedID) = encoder.openNested(in: index, id: id, key: nil, pathKey: pathKey, isObject: false)
        return CompactUnkeyedContainer(encoder: encoder, index: nested, id: nestedID)
    }

    mutating func superEncoder() -> any Encoder {
        _ = encoder.fallback()
        return encoder
    }
}

// MARK: - Single value container

struct CompactSingleValueContainer: SingleValueEncodingContainer, CompactScalarWriting {
    let encoder: CompactJSONEncoderState
    /// The value (index in `slots`) this container writes.
    let slot: Int

    var codingPath: [any CodingKey] { encoder.codingPath }

    /// Claims the value's one write; a second write, or one after a container, falls back
    /// (JSONEncoder traps or drops it).
    @inline(__always)
    func begin() throws {
        guard !encoder.needsFallback, slot >= 0, slot == encoder.slots.count - 1,
              encoder.slots[slot].state == .empty else { throw encoder.fallback() }
        encoder.slots[slot].state = .single
    }


    // Here, not in `CompactScalarWriting`: the standard library has defaults for the 128-bit
    // integers, and a second default would be ambiguous.
    mutating func encode(_ value: Int128) throws { try begin(); encoder.writeInteger(value) }
    mutating func encode(_ value: UInt128) throws { try begin(); encoder.writeInteger(value) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try begin()
        try encoder.encodeValue(value, key: nil)
    }
}

// MARK: - Scalar writes shared by the unkeyed and single value containers

/// A container that writes one scalar after claiming its place with `begin()` (which differs:
/// an array element versus a single value's one write).
protocol CompactScalarWriting {
    var encoder: CompactJSONEncoderState { get }
    func begin() throws
}

extension CompactScalarWriting {
    mutating func encodeNil() throws { try begin(); encoder.writeNull() }
    mutating func encode(_ value: Bool) throws { try begin(); encoder.writeBool(value) }
    mutating func encode(_ value: String) throws { try begin(); encoder.writeString(value) }
    mutating func encode(_ value: Double) throws { try begin(); try encoder.writeFloat(value) }
    mutating func encode(_ value: Float) throws { try begin(); try encoder.writeFloat(value) }
    mutating func encode(_ value: Int) throws { try begin(); encoder.writeInteger(value) }
    mutating func encode(_ value: Int8) throws { try begin(); encoder.writeInteger(value) }
    mutating func encode(_ value: Int16) throws { try begin(); encoder.writeInteger(value) }
    mutating func encode(_ value: Int32) throws { try begin(); encoder.writeInteger(value) }
    mutating func encode(_ value: Int64) throws { try begin(); encoder.writeInteger(value) }
    mutating func encode(_ value: UInt) throws { try begin(); encoder.writeInteger(value) }
    mutating func encode(_ value: UInt8) throws { try begin(); encoder.writeInteger(value) }
    mutating func encode(_ value: UInt16) throws { try begin(); encoder.writeInteger(value) }
    mutating func encode(_ value: UInt32) throws { try begin(); encoder.writeInteger(value) }
    mutating func encode(_ value: UInt64) throws { try begin(); encoder.writeInteger(value) }
}
