/// An 18-character citizen identity number (公民身份号码, GB 11643-1999), checked.
///
/// Layout: 6-digit address code, 8-digit birth date `YYYYMMDD`, 3-digit sequence whose
/// last digit (the 17th character) is odd for men and even for women, then an
/// ISO 7064 MOD 11-2 check character `0`–`9` or `X`. A value of this type always has a
/// correct check character and a real birth date.
public struct IDNumber: Sendable, Hashable, CustomStringConvertible {
    /// The number exactly as written (upper-case `X` only).
    public let rawValue: String
    /// The birth date embedded in characters 7–14.
    public let birthDate: CivilDate
    /// The sex encoded by the 17th character.
    public let gender: Gender

    /// Validates `text`; `nil` unless it is 17 ASCII digits plus the right check character
    /// and embeds a real date.
    ///
    /// A lower-case `x` is rejected: the number is the Kafka key of `card.submission` and the
    /// identity of a child in every table, so one spelling per person keeps the
    /// one-active-application rule exact; portals upper-case it before sending.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count == 18, bytes[0..<17].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let expected = Self.checkCharacter(forFirst17: String(decoding: bytes[0..<17], as: UTF8.self)),
              Character(UnicodeScalar(bytes[17])) == expected,
              let year = ASCIIDigits.int(bytes[6..<10]),
              let month = ASCIIDigits.int(bytes[10..<12]),
              let day = ASCIIDigits.int(bytes[12..<14]),
              let birth = CivilDate(year: year, month: month, day: day) else { return nil }
        self.rawValue = text
        self.birthDate = birth
        self.gender = (bytes[16] - 0x30) % 2 == 1 ? .male : .female
    }

    public var description: String { Masking.idNumber(rawValue) }

    /// The 6-digit administrative division code of the place of first registration.
    public var regionCode: String { String(rawValue.prefix(6)) }

    // MARK: - ISO 7064 MOD 11-2

    /// Weights 2^(17-i) mod 11 for positions 1…17, as tabulated in GB 11643-1999.
    static let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    /// Check character indexed by (weighted sum mod 11).
    static let checkCharacters: [Character] = ["1", "0", "X", "9", "8", "7", "6", "5", "4", "3", "2"]

    /// The check character for the first 17 characters, or `nil` unless they are 17 ASCII digits.
    public static func checkCharacter(forFirst17 digits: String) -> Character? {
        let bytes = Array(digits.utf8)
        guard bytes.count == 17 else { return nil }
        var sum = 0
        for (index, byte) in bytes.enumerated() {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            sum += Int(byte - 0x30) * weights[index]
        }
        return checkCharacters[sum % 11]
    }

    /// Builds a valid number, for seeding test data and fixtures.
    ///
    /// - Parameters:
    ///   - region: a 6-digit address code such as `110105`.
    ///   - birthDate: the birth date to embed.
    ///   - sequence: 0…999; its last digit is the sex digit, so odd is male, even female.
    /// - Returns: `nil` if the region is not 6 digits, the sequence is out of range or the
    ///   year has not 4 digits.
    public static func make(region: String, birthDate: CivilDate, sequence: Int) -> IDNumber? {
        guard region.utf8.count == 6, region.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              (0...999).contains(sequence), (1000...9999).contains(birthDate.year) else { return nil }
        let first17 = region + ASCIIDigits.padded(birthDate.year, 4)
            + ASCIIDigits.padded(birthDate.month, 2) + ASCIIDigits.padded(birthDate.day, 2)
            + ASCIIDigits.padded(sequence, 3)
        guard let check = checkCharacter(forFirst17: first17) else { return nil }
        return IDNumber(first17 + String(check))
    }

    /// Builds a valid number for a person of the given sex, picking the sequence from `serial`.
    public static func make(region: String, birthDate: CivilDate, gender: Gender, serial: Int = 0) -> IDNumber? {
        let base = (abs(serial) % 500) * 2  // even: female
        return make(region: region, birthDate: birthDate, sequence: gender == .male ? base + 1 : base)
    }
}

extension IDNumber {
    /// Whether the number names a person not yet born on `today` (its embedded birth date is
    /// later); `false` when `today` is unknown. Born on `today` itself is born.
    ///
    /// Such a number is no one's: intake reports it as ID_NUMBER_INVALID for that person,
    /// like a wrong check character, instead of waiting out the registry's grace period
    /// (docs/contract-additions.md, "ID numbers").
    public func namesNoOneBornBy(_ today: CivilDate?) -> Bool {
        guard let today else { return false }
        return birthDate > today
    }
}
