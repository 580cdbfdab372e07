/// Topic names of the contract, plus the project's internal ones.
public enum CardTopics {
    public static let submission = "card.submission"
    public static let identityVerification = "card.identity-verification"
    public static let bankRouting = "card.bank-routing"
    public static let cardProduction = "card.card-production"
    public static let orders = "card.orders"
    public static let bankEvents = "card.bank-events"
    public static let status = "card.status"
    public static let deadLetters = "card.dlq"
    public static let registryPersons = "registry.persons"
    public static let bankBranches = "bank.branches"
    /// Internal: later stages tell intake an application ended, keyed by the applicant's id_number
    /// so it lands on the partition that holds the child's active entry.
    public static let applicationClosed = "card.application-closed"
}
