/// A bank branch as bank systems publish it on `bank.branches` (compacted, keyed
/// `bank/branch`).
///
/// `bank` stays a plain string here: reference data from a bank should load even if it
/// names a bank this service does not issue through; the routing rules compare codes.
public struct Branch: Sendable, Hashable, Codable {
    public var bank: String
    public var branch: String
    public var name: String
    public var district: String
    public var address: String
    public var open: Bool
    public var servesMinors: Bool

    public init(
        bank: String, branch: String, name: String, district: String, address: String,
        open: Bool = true, servesMinors: Bool = true
    ) {
        self.bank = bank
        self.branch = branch
        self.name = name
        self.district = district
        self.address = address
        self.open = open
        self.servesMinors = servesMinors
    }

    enum CodingKeys: String, CodingKey {
        case bank, branch, name, district, address, open
        case servesMinors = "serves_minors"
    }

    /// This branch's Kafka key, `bank/branch`.
    public var key: String { Self.key(bank: bank, branch: branch) }

    /// The `bank/branch` key used by `card.bank-routing` and `bank.branches`.
    public static func key(bank: String, branch: String) -> String { bank + "/" + branch }
}
