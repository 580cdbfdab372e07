/// One broken rule: a contract code, the field it concerns and a Chinese sentence a parent
/// can act on. Serialised as `{"code", "field", "message"}` in `card.status` reasons.
public struct Reason: Sendable, Hashable, Codable {
    public var code: ReasonCode
    /// Dotted path into the submission (`applicant.birth_date`, `documents.photo`), or a
    /// person (`agent` / `applicant`) for registry rules; `nil` (written `null`) when the
    /// reason is not about one field.
    public var field: String?
    /// What went wrong, in Chinese, without quoting any personal data.
    public var message: String

    public init(code: ReasonCode, field: String?, message: String? = nil) {
        self.code = code
        self.field = field
        self.message = message ?? ReasonMessages.message(for: code, field: field ?? "")
    }

    enum CodingKeys: String, CodingKey {
        case code, field, message
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(code, forKey: .code)
        // Always present, as `card.status` lists it; null when not about one field.
        try c.encode(field, forKey: .field)
        try c.encode(message, forKey: .message)
    }

    // MARK: - Reasons that need state the pure rules do not have

    /// The applicant already has an application that is neither rejected nor failed.
    /// The intake worker adds it after looking the applicant up in its own state.
    public static func duplicateActiveApplication() -> Reason {
        Reason(code: .duplicateActiveApplication, field: "applicant.id_number")
    }

    /// The bank reported the order `failed`; for the `failed` status.
    public static func bankProductionFailed() -> Reason {
        Reason(code: .bankProductionFailed, field: "card.bank")
    }

    /// Orders reasons the way intake reports them: by the contract's table order, then by
    /// the order the rules found them (a stable sort).
    public static func sorted(_ reasons: [Reason]) -> [Reason] {
        reasons.enumerated()
            .sorted { ($0.element.code.ordinal, $0.offset) < ($1.element.code.ordinal, $1.offset) }
            .map(\.element)
    }
}
