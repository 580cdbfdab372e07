/// Where an application stands, as published on `card.status`.
///
/// The happy path is `received` → `identity_verified` → `routed` → `in_production` →
/// `ready_for_pickup` → `picked_up`; `rejected` (with reasons) may end it at any stage,
/// `failed` ends it on a bank failure, and `overdue` is reported once when the bank
/// misses `due_by`.
public enum ApplicationStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case received
    case identityVerified = "identity_verified"
    case routed
    case inProduction = "in_production"
    case readyForPickup = "ready_for_pickup"
    case pickedUp = "picked_up"
    case rejected
    case failed
    case overdue

    /// Whether the application is over and its applicant may apply again.
    ///
    /// Only `rejected` and `failed` free the child: a picked-up card is still the child's
    /// active card, so the duplicate rule keeps applying to it.
    public var freesApplicant: Bool { self == .rejected || self == .failed }
}
