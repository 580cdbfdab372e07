import Foundation
import Testing

@testable import CardDomain

@Suite("Civil dates, ages and RFC 3339 timestamps")
struct TimeTests {
    @Test("dates parse only as real YYYY-MM-DD days")
    func parseDates() {
        #expect(CivilDate("2026-11-25") == CivilDate(year: 2026, month: 11, day: 25))
        #expect(CivilDate("2024-02-29") != nil)
        for bad in ["2026-02-29", "2026-13-01", "2026-04-31", "2026-1-5", "26-11-25", "2026/11/25", "2026-11-25T00:00:00Z", ""] {
            #expect(CivilDate(bad) == nil, "\(bad)")
        }
        #expect(CivilDate("1900-02-29") == nil)  // not a leap year
        #expect(CivilDate("2000-02-29") != nil)  // divisible by 400
    }

    @Test("day numbers round-trip and add days across months and years")
    func dayArithmetic() throws {
        #expect(try #require(CivilDate("1970-01-01")).daysSinceEpoch == 0)
        #expect(try #require(CivilDate("2026-11-25")).adding(days: 30) == CivilDate("2026-12-25"))
        #expect(try #require(CivilDate("2028-02-28")).adding(days: 1) == CivilDate("2028-02-29"))
        #expect(try #require(CivilDate("1969-12-31")).daysSinceEpoch == -1)
        for days in stride(from: -30_000, through: 30_000, by: 997) {
            #expect(CivilDate(daysSinceEpoch: days).daysSinceEpoch == days)
        }
    }

    @Test("age changes on the birthday itself, not the day before")
    func ageOnBirthday() throws {
        let birth = try #require(CivilDate("2008-11-25"))
        #expect(birth.age(on: try #require(CivilDate("2026-11-24"))) == 17)
        #expect(birth.age(on: try #require(CivilDate("2026-11-25"))) == 18)
        #expect(birth.age(on: try #require(CivilDate("2008-11-24"))) == -1)
    }

    @Test("a 29 February birthday turns over on 1 March in common years, on 29 February in leap years")
    func leapDayBirthday() throws {
        let birth = try #require(CivilDate("2008-02-29"))
        #expect(birth.age(on: try #require(CivilDate("2026-02-28"))) == 17)
        #expect(birth.age(on: try #require(CivilDate("2026-03-01"))) == 18)
        #expect(birth.age(on: try #require(CivilDate("2028-02-28"))) == 19)
        #expect(birth.age(on: try #require(CivilDate("2028-02-29"))) == 20)
    }

    @Test("RFC 3339 timestamps parse with offsets and fractions, and re-encode as written")
    func timestamps() throws {
        for text in ["2026-11-25T10:15:00+08:00", "2026-11-25T14:02:37.512+08:00", "2026-11-25T02:30:00Z",
                     "2026-11-24T21:00:00-05:30", "2026-11-25T10:15:00.123456+08:00",
                     // Padding at every width: early years, single-digit parts, a fraction with leading zeros.
                     "0001-01-01T00:00:00Z", "1970-01-01T00:00:00.000001Z", "0999-02-03T04:05:06-00:30", "2026-02-03T04:05:06.05-00:30", "9999-12-31T23:59:59+14:00"] {
            let stamp = try #require(Timestamp(rfc3339: text), "\(text)")
            #expect(stamp.description == text)
            let data = try JSONEncoder().encode([stamp])
            #expect(try JSONDecoder().decode([Timestamp].self, from: data) == [stamp])
        }
        #expect(Timestamp(rfc3339: "2026-11-25T10:15:00+08:00") == Timestamp(rfc3339: "2026-11-25T02:15:00Z"))
    }

    @Test("timestamps without an offset, or with impossible parts, are rejected")
    func badTimestamps() {
        for text in ["2026-11-25T10:15:00", "2026-11-25 10:15:00+08:00", "2026-11-25T24:00:00Z", "2026-11-25T10:61:00Z",
                     "2026-02-30T10:00:00Z", "2026-11-25T10:15:00+0800", "2026-11-25T10:15:00.+08:00", "2026-11-25"] {
            #expect(Timestamp(rfc3339: text) == nil, "\(text)")
        }
    }

    @Test("the Shanghai day of an instant: 16:00Z is already tomorrow in Beijing")
    func shanghaiDay() throws {
        #expect(try #require(Timestamp(rfc3339: "2026-11-24T15:59:59Z")).shanghaiDate == CivilDate("2026-11-24"))
        #expect(try #require(Timestamp(rfc3339: "2026-11-24T16:00:00Z")).shanghaiDate == CivilDate("2026-11-25"))
        #expect(try #require(Timestamp(rfc3339: "2026-11-25T00:30:00+09:00")).shanghaiDate == CivilDate("2026-11-24"))
    }

    @Test("due_by is 30 natural days later at the same wall-clock time")
    func addingDays() throws {
        let ordered = try #require(Timestamp(rfc3339: "2026-11-25T10:15:03.402+08:00"))
        #expect(ordered.adding(days: 30).description == "2026-12-25T10:15:03.402+08:00")
    }
}
