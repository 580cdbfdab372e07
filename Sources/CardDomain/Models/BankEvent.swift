/// What a bank reports about an order on `card.bank-events`.
///
/// `{"application_id", "order_id", "event", "reason", "at"}`; `reason` is the bank's own
/// text, present (or `null`) mainly for `failed`.
public struct BankEvent: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable, CaseIterable {
        case accepted
        case produced
        case atBranch = "at_branch"
        case pickedUp = "picked_up"
        case failed

        /// The application status this event moves to, or `nil` for events only kept in
        /// the history (`accepted`, `produced`).
        public var resultingStatus: ApplicationStatus? {
            switch self {
            case .accepted, .produced: nil
            case .atBranch: .readyForPickup
            case .pickedUp: .pickedUp
            case .failed: .failed
            }
        }
    }

    public var applicationID: String
    public var orderID: String
    public var event: Kind
    public var reason: String?
    public var at: Timestamp

    public init(applicationID: String, orderID: String, event: Kind, reason: String? = nil, at: Timestamp) {
        self.applicationID = applicationID
        self.orderID = orderID
        self.event = event
        self.reason = reason
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case applicationID = "application_id"
        case orderID = "order_id"
        case event, reason, at
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(applicationID, forKey: .applicationID)
        try c.encode(orderID, forKey: .orderID)
        try c.encode(event, forKey: .event)
        // The contract lists `reason` on every event; null when the bank gave none.
        try c.encode(reason, forKey: .reason)
        try c.encode(at, forKey: .at)
    }
}
