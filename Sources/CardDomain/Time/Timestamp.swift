import Foundation

/// An instant written as an RFC 3339 timestamp with an explicit offset
/// (`2026-11-25T10:15:00+08:00`), as every `*_at` and `due_by` field in the contract is.
///
/// It keeps the offset it was written with so a message re-encoded by a worker keeps the
/// portal's spelling; comparisons and equality use the instant only. Parsing is done by
/// hand because `ISO8601DateFormatter` differs across platforms on fractions and offsets.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Seconds since 1970-01-01T00:00:00Z, with microseconds in the fraction.
    public let secondsSinceEpoch: Double
    /// The offset from UTC the timestamp is written in, in seconds (`+08:00` is 28800).
    public let utcOffsetSeconds: Int

    /// Beijing time. China has had no daylight saving since 1991, so a fixed offset is
    /// exactly Asia/Shanghai for every date this system meets, without depending on tzdata.
    public static let shanghaiOffsetSeconds = 8 * 3600

    public init(secondsSinceEpoch: Double, utcOffsetSeconds: Int = Timestamp.shanghaiOffsetSeconds) {
        // Microsecond resolution: more than RFC 3339 writers send, and it keeps
        // encode → decode → encode stable despite binary floating point.
        self.secondsSinceEpoch = (secondsSinceEpoch * 1_000_000).rounded() / 1_000_000
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    /// The instant `date`, written in Beijing time unless another offset is given.
    public init(_ date: Date, utcOffsetSeconds: Int = Timestamp.shanghaiOffsetSeconds) {
        self.init(secondsSinceEpoch: date.timeIntervalSince1970, utcOffsetSeconds: utcOffsetSeconds)
    }

    /// Now, written in Beijing time.
    public static func now() -> Timestamp { Timestamp(Date()) }

    public var date: Date { Date(timeIntervalSince1970: secondsSinceEpoch) }

    /// The calendar day this instant falls on in Asia/Shanghai: the contract's "today".
    public var shanghaiDate: CivilDate { civilDate(utcOffsetSeconds: Timestamp.shanghaiOffsetSeconds) }

    /// The calendar day this instant falls on at a given UTC offset.
    public func civilDate(utcOffsetSeconds offset: Int) -> CivilDate {
        let local = Int((secondsSinceEpoch + Double(offset)).rounded(.down))
        return CivilDate(daysSinceEpoch: Self.floorDiv(local, 86_400))
    }

    /// The same wall-clock offset, `days` natural days (of 24 h: no DST in Beijing) later.
    public func adding(days: Int) -> Timestamp {
        Timestamp(secondsSinceEpoch: secondsSinceEpoch + Double(days) * 86_400, utcOffsetSeconds: utcOffsetSeconds)
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.secondsSinceEpoch < rhs.secondsSinceEpoch }
    public static func == (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.secondsSinceEpoch == rhs.secondsSinceEpoch }
    public func hash(into hasher: inout Hasher) { hasher.combine(secondsSinceEpoch) }

    // MARK: - Parsing

    /// Parses an RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
    ///
    /// `frac` may have any number of digits (RFC 3339 §5.6 sets no limit); digits past the
    /// sixth are dropped, never rounded, so an instant is never read as later than written
    /// (docs/contract-additions.md, "Timestamps").
    ///
    /// The offset is mandatory: a bare local time cannot say which day it is in Beijing.
    /// `t`/`z` in lower case are accepted as RFC 3339 allows; a leap second (`:60`) is read
    /// as the last instant of its minute.
    public init?(rfc3339 text: some StringProtocol) {
        let b = Array(text.utf8)
        guard b.count >= 20,
              let date = CivilDate(bytes: b[0..<10]),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let hour = ASCIIDigits.int(b[11..<13]), hour <= 23,
              let minute = ASCIIDigits.int(b[14..<16]), minute <= 59,
              let second = ASCIIDigits.int(b[17..<19]), second <= 60 else { return nil }
        var index = 19
        // The fraction is read as whole microseconds, TRUNCATED: RFC 3339 allows any number
        // of digits (.NET writes 7, Go and Java up to 9), and rounding `23:59:59.9999999`
        // up would move the instant into the next second, and so into the next Beijing day
        // (an 18th birthday or an ID's last valid day one day early).
        var micros = 0
        if b[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < b.count, b[index] >= 0x30, b[index] <= 0x39 {
                if index - start < 6 { micros = micros * 10 + Int(b[index] - 0x30) }
                index += 1
            }
            guard index > start else { return nil }
            for _ in min(index - start, 6)..<6 { micros *= 10 }
        }
        guard index < b.count else { return nil }
        let offset: Int
        switch b[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == b.count else { return nil }
            offset = 0
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == b.count, b[index + 3] == UInt8(ascii: ":"),
                  let oh = ASCIIDigits.int(b[(index + 1)..<(index + 3)]), oh <= 23,
                  let om = ASCIIDigits.int(b[(index + 4)..<(index + 6)]), om <= 59 else { return nil }
            offset = (b[index] == UInt8(ascii: "-") ? -1 : 1) * (oh * 3600 + om * 60)
        default:
            return nil
        }
        let whole = date.daysSinceEpoch * 86_400 + hour * 3600 + minute * 60 + min(second, 59) - offset
        // Whole seconds and microseconds are exact in a Double at this range (2^53 µs is
        // ~285 years either side of 1970), so the microsecond rounding in `init` keeps them.
        self.init(secondsSinceEpoch: Double(whole) + Double(second == 60 ? 999_999 : micros) / 1_000_000,
                  utcOffsetSeconds: offset)
    }

    // MARK: - Formatting

    /// RFC 3339 in the stored offset; a fraction only when there is one (up to µs).
    public var description: String {
        let micros = Int64((secondsSinceEpoch * 1_000_000).rounded())
        let localMicros = micros + Int64(utcOffsetSeconds) * 1_000_000
        let localSeconds = Int(Self.floorDiv(localMicros, 1_000_000))
        let fractionMicros = Int(localMicros - Int64(localSeconds) * 1_000_000)
        let day = CivilDate(daysSinceEpoch: Self.floorDiv(localSeconds, 86_400))
        let secondOfDay = localSeconds - Self.floorDiv(localSeconds, 86_400) * 86_400
        // Written byte by byte: every message carries several timestamps.
        var bytes: [UInt8] = []
        bytes.reserveCapacity(32)
        day.append(to: &bytes)
        bytes.append(UInt8(ascii: "T"))
        ASCIIDigits.append(secondOfDay / 3600, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        ASCIIDigits.append(secondOfDay % 3600 / 60, width: 2, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
        ASCIIDigits.append(secondOfDay % 60, width: 2, to: &bytes)
        if fractionMicros != 0 {
            bytes.append(UInt8(ascii: "."))
            ASCIIDigits.append(fractionMicros, width: 6, to: &bytes)
            while bytes.last == UInt8(ascii: "0") { bytes.removeLast() }
        }
        if utcOffsetSeconds == 0 {
            bytes.append(UInt8(ascii: "Z"))
        } else {
            let magnitude = abs(utcOffsetSeconds)
            bytes.append(utcOffsetSeconds < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
            ASCIIDigits.append(magnitude / 3600, width: 2, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            ASCIIDigits.append(magnitude % 3600 / 60, width: 2, to: &bytes)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: - Codable

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let value = Timestamp(rfc3339: text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "expected an RFC 3339 timestamp with an offset")
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static func floorDiv<T: BinaryInteger>(_ a: T, _ b: T) -> T {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }
}
