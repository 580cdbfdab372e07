import CardDomain
import JSONCodec

/// The canonical form of a submission body: compact JSON with sorted keys (``CardJSON``).
///
/// Two bodies that differ only in white space or member order are the same submission, so the
/// idempotency check compares canonical digests, and the gateway publishes the canonical bytes.
public enum SubmissionBody {
    public static func canonical(_ tree: JSONValue) -> [UInt8] {
        // A parsed tree always encodes (finite numbers, string keys); the fallback never fires.
        (try? CardJSON.encodeBytes(tree)) ?? []
    }

    /// SHA-256 (hex) of the canonical bytes.
    public static func digest(of tree: JSONValue) -> String { SHA256.hex(canonical(tree)) }
}
