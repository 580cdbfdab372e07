/// Bounds on the reasons one status carries, so a rejection always fits in a Kafka record.
///
/// Without them a 42 KB submission whose `card.functions` held 20,000 non-strings made one
/// `SCHEMA_INVALID` per element: a 3 MB `rejected` status over the producer's 1,000,000-byte
/// `message.max.bytes`, which crash-looped intake (case ow-04a). With them a reasons list is at
/// most `maxPerCode` × 39 codes × (256 + 512 + ~60) bytes ≈ 650 KB even in theory (only
/// `SCHEMA_INVALID` can repeat without limit, so in practice a few KB).
///
/// The shape stays the contract's (`card.status` `reasons: [{code, field, message}]`), in its
/// table order: at most ``maxPerCode`` reasons of each code, the last of them a summary
/// (`field` = the common parent of the omitted fields, message 另有 N 处…) when more were found.
/// Every code found is still reported at least once.
public enum ReasonBounds {
    /// Most reasons of one code in one status, the summary included.
    public static let maxPerCode = 20
    /// Most UTF-8 bytes of a `field` path (longer ones are cut at a character and end in `…`).
    public static let maxFieldBytes = 256
    /// Most UTF-8 bytes of a `message`.
    public static let maxMessageBytes = 512

    /// `reasons` ordered by the contract's tables and bounded as described above. Idempotent.
    public static func bounded(_ reasons: [Reason]) -> [Reason] {
        var result: [Reason] = []
        var group: [Reason] = []
        func flush() {
            guard let code = group.first?.code else { return }
            if group.count <= maxPerCode {
                result += group
            } else {
                let listed = group.prefix(maxPerCode - 1)
                let omitted = group.dropFirst(maxPerCode - 1)
                result += listed
                result.append(summary(code: code, omitted: Array(omitted)))
            }
            group.removeAll()
        }
        for reason in Reason.sorted(reasons) {
            if let code = group.first?.code, code != reason.code { flush() }
            group.append(Reason(code: reason.code, field: reason.field.map { cut($0, to: maxFieldBytes) },
                                message: cut(reason.message, to: maxMessageBytes)))
        }
        flush()
        return result
    }

    /// One reason standing for `omitted` reasons of `code`: their common parent path, and how many.
    static func summary(code: ReasonCode, omitted: [Reason]) -> Reason {
        let fields = omitted.compactMap(\.field)
        let parent = fields.count == omitted.count ? commonParent(fields) : nil
        let label = parent.map { ReasonMessages.fieldLabel($0) } ?? ""
        let message = "另有\(omitted.count)处\(label.isEmpty ? "" : "“\(label)”中的")同类问题未逐一列出，请一并核对"
        return Reason(code: code, field: parent, message: cut(message, to: maxMessageBytes))
    }

    /// The longest common prefix of `paths` that ends at a path boundary (`.` or `[`), without it;
    /// `nil` when they share none. `card.functions[19]`, `card.functions[20]` → `card.functions`.
    static func commonParent(_ paths: [String]) -> String? {
        // A sentinel `.` ends every path, so a path that is a prefix of another is their parent.
        guard var prefix = paths.first.map({ Array($0.utf8) + [UInt8(ascii: ".")] }) else { return nil }
        for path in paths.dropFirst() {
            let bytes = Array(path.utf8) + [UInt8(ascii: ".")]
            var n = 0
            while n < prefix.count, n < bytes.count, prefix[n] == bytes[n] { n += 1 }
            prefix.removeSubrange(n...)
        }
        guard let boundary = prefix.lastIndex(where: { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "[") }), boundary > 0 else {
            return nil
        }
        return String(decoding: prefix[..<boundary], as: UTF8.self)
    }

    /// `text` if it is at most `limit` UTF-8 bytes, else its longest prefix of whole characters
    /// that fits with a trailing `…` (3 bytes).
    public static func cut(_ text: String, to limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var used = 0
        var end = text.startIndex
        for index in text.indices {
            let size = text[index].utf8.count
            if used + size > limit - 3 { break }
            used += size
            end = text.index(after: index)
        }
        return String(text[..<end]) + "…"
    }
}
