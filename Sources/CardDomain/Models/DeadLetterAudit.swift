import Foundation

/// One operator action on a dead letter, as kept on `card.dlq-audit` (schema `card.dlq-audit.v1`),
/// keyed by the dead letter's id so every action on one letter lands on one partition, in order.
///
/// `{"schema", "action": "replay|reveal", "dead_letter": "card.dlq/<partition>/<offset>",
/// "source_topic", "operator", "reason", "at", "patch"?: [masked diff lines], "replay_topic"?}`.
/// An addition to the contract (docs/contract-additions.md, "Dead-letter casework"): the audit
/// trail says what was done, when, why and by whom; it holds no unmasked personal data.
public struct DeadLetterAudit: Sendable, Hashable, Codable {
    public static let schemaName = "card.dlq-audit.v1"

    public enum Action: String, Sendable, Hashable, Codable {
        /// The dead letter's payload (possibly repaired) was produced again to its source topic.
        case replay
        /// The dead letter was shown with its personal data unmasked.
        case reveal
    }

    public var schema: String = DeadLetterAudit.schemaName
    public var action: Action
    /// The dead letter acted on: `card.dlq/<partition>/<offset>` (see ``DeadLetterAudit/id(partition:offset:)``).
    public var deadLetter: String
    /// The topic the dead letter came from (and a replay went back to).
    public var sourceTopic: String
    /// Who acted: `--operator`, else the login name.
    public var operatorName: String
    /// Why, in the operator's words (required by the commands).
    public var reason: String
    public var at: Timestamp
    /// A replay's repair as masked diff lines (`replace /applicant/landline: "010-…" → null`); absent when none.
    public var patch: [String]?

    public init(action: Action, deadLetter: String, sourceTopic: String, operatorName: String, reason: String, at: Timestamp,
                patch: [String]? = nil) {
        self.action = action
        self.deadLetter = deadLetter
        self.sourceTopic = sourceTopic
        self.operatorName = operatorName
        self.reason = reason
        self.at = at
        self.patch = patch
    }

    /// The id of the dead letter at `offset` of `card.dlq`'s `partition`: `card.dlq/3/1207`.
    public static func id(partition: Int32, offset: Int64) -> String { "card.dlq/\(partition)/\(offset)" }

    enum CodingKeys: String, CodingKey {
        case schema, action
        case deadLetter = "dead_letter"
        case sourceTopic = "source_topic"
        case operatorName = "operator"
        case reason, at, patch
    }
}
