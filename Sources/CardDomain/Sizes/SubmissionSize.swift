/// The largest `card.submission` value intake accepts (a project addition to the contract,
/// docs/contract-additions.md "Sizes"; the contract itself names no size).
///
/// Everything intake passes on carries the submission: the envelope on
/// `card.identity-verification` holds all of it, and JSON re-encoding may at worst double it
/// (a 3-byte character written as a 6-byte `\uXXXX` escape). 256 KiB doubled plus the
/// envelope's own fields stays well under librdkafka's default `message.max.bytes`
/// (1,000,000 bytes), so an accepted submission always fits downstream. A real submission is
/// 2–4 KB (attachments are claim checks, never bytes). Larger values, such as a 1 MiB record a
/// Java producer may legally send (its default `max.request.size` is 1,048,576), are rejected
/// with ``ReasonCode/submissionTooLarge`` alongside every other broken rule (case ow-04c).
public enum SubmissionSize {
    /// Most bytes of a `card.submission` value: 262,144 (256 KiB).
    public static let maxBytes = 256 * 1024

    /// `SUBMISSION_TOO_LARGE` (field `null`) for a value of `byteCount` bytes over ``maxBytes``.
    public static func reason(byteCount: Int) -> Reason? {
        byteCount > maxBytes ? Reason(code: .submissionTooLarge, field: nil) : nil
    }
}
