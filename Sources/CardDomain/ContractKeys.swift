import Foundation
import JSONCodec

/// The contract's Kafka key of a record on a topic written outside the fleet, derived from its value
/// (contract.md, "Topics": `card.submission` is keyed by the applicant's `id_number`, `card.bank-events`
/// by `application_id`).
///
/// The partition a worker keeps a key's state on follows from this key, never from the key the
/// producer set: a portal or bank may send no key, another key, or hash with another partitioner.
/// `nil` means the value does not name a key the worker would keep state under (not JSON, no usable
/// submission_id, an event that does not decode): such a record is processed where it is and ends
/// as a dead letter or a rejection, which depend on no partition's state. See
/// docs/contract-additions.md, "Partitioner and keys".
public enum ContractKeys {
    /// `card.submission`: the applicant's `id_number`, exactly as written, when the value is a JSON
    /// object with a usable `submission_id` (1–64 of `[A-Za-z0-9_-]`) and a non-empty string at
    /// `applicant.id_number`; otherwise `nil`.
    public static func submission(_ value: some Collection<UInt8>) -> String? {
        JSONValue(parsing: value).flatMap(submission(parsed:))
    }

    /// ``submission(_:)`` of a value parsed already.
    public static func submission(parsed root: JSONValue) -> String? {
        guard let id = root["submission_id"]?.stringValue, Catalogues.isSubmissionID(id),
              let number = root["applicant"]?["id_number"]?.stringValue, !number.isEmpty else { return nil }
        return number
    }

    /// `card.bank-events`: the event's `application_id` when the value decodes as a bank event; otherwise `nil`.
    public static func bankEvent(_ value: some Collection<UInt8>) -> String? {
        guard let event = try? CardJSON.decode(BankEvent.self, from: value), !event.applicationID.isEmpty else { return nil }
        return event.applicationID
    }
}
