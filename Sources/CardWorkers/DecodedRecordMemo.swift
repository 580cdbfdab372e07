import Foundation
import JSONCodec
import Synchronization

/// Reference records already decoded, keyed by their stored bytes: a lookup that finds the same
/// bytes again skips the JSON decode.
///
/// Keyed by content, not by table key, so it can never hand back a stale record: a branch whose
/// record changed in the reference table has other bytes, hence another entry. Bounded: past
/// `limit` entries it starts over (the working set, e.g. the ~400 branches routing reads, refills
/// at once). Why: routing decoded the same few hundred branch records once per application
/// (~2.5 % of its CPU under `fleet bench`, perf, issue 14).
final class DecodedRecordMemo<Value: Sendable>: Sendable {
    private let entries = Mutex<[Data: Value]>([:])
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    /// The value `bytes` decode to: from the memo, or by `decode` (then kept).
    /// - Throws: what `decode` throws (nothing is kept then).
    func value(for bytes: Data, decode: (Data) throws -> Value) throws -> Value {
        if let kept = entries.withLock({ $0[bytes] }) { return kept }
        let value = try decode(bytes)
        entries.withLock { entries in
            if entries.count >= limit { entries.removeAll(keepingCapacity: true) }
            entries[bytes] = value
        }
        return value
    }

    /// Entries held now (for tests).
    var count: Int { entries.withLock { $0.count } }
}
