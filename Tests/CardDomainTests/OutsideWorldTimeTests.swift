import Foundation
import JSONCodec
import Testing

@testable import CardDomain

/// RFC 3339 fractions of any length (issue 11, item 6; case ow-06a): digits past the
/// microsecond are dropped, never rounded, so no instant is read as the next Beijing day.
@Suite("Timestamps: fractions of any length, truncated")
struct OutsideWorldTimeTests {
    @Test("0 to 9 fraction digits and longer all parse, to the microsecond, truncated", arguments: 0...12)
    func fractionLengths(_ digits: Int) throws {
        let fraction = digits == 0 ? "" : "." + String(repeating: "9", count: digits)
        let stamp = try #require(Timestamp(rfc3339: "2026-11-24T23:59:59\(fraction)+08:00"))
        let micros = digits == 0 ? 0 : Int(String(repeating: "9", count: min(digits, 6)))! * Int(pow(10, Double(6 - min(digits, 6))))
        let base = try #require(Timestamp(rfc3339: "2026-11-24T23:59:59+08:00"))
        #expect(((stamp.secondsSinceEpoch - base.secondsSinceEpoch) * 1_000_000).rounded() == Double(micros))
        #expect(stamp.shanghaiDate == CivilDate("2026-11-24"), "\(digits) digits moved the instant into the next day")
    }

    @Test("the last nanosecond of a Beijing day stays on that day, in any offset")
    func lastInstantOfTheDay() throws {
        for text in ["2026-11-24T23:59:59.999999999+08:00", "2026-11-24T15:59:59.9999999Z",
                     "2026-11-24T10:59:59.99999999999999999999-05:00", "2026-11-24T23:59:60.9999999+08:00"] {
            let stamp = try #require(Timestamp(rfc3339: text), "\(text)")
            #expect(stamp.shanghaiDate == CivilDate("2026-11-24"), "\(text)")
        }
        #expect(try #require(Timestamp(rfc3339: "2026-11-25T00:00:00.0000001+08:00")).shanghaiDate == CivilDate("2026-11-25"))
    }

    @Test("a truncated timestamp writes back as the microsecond, and reads back the same")
    func roundTrip() throws {
        let stamp = try #require(Timestamp(rfc3339: "2026-11-24T23:59:59.9999999+08:00"))
        #expect(stamp.description == "2026-11-24T23:59:59.999999+08:00")
        #expect(Timestamp(rfc3339: stamp.description) == stamp)
        #expect(Timestamp(rfc3339: "2026-11-24T23:59:59.+08:00") == nil, "a dot needs at least one digit")
    }

    @Test("ow-06a: seven digits on the eve of the 18th birthday and the ID's last valid day: received")
    func eveOfEighteenthBirthday() {
        var tree = Fixtures.applicant(born: "2008-11-25", submittedAt: "2026-11-24T23:59:59.9999999+08:00", gender: .female)
        tree[path: "applicant.id_valid_to"] = "2026-11-24"
        #expect(codes(tree) == [])
        // One tick later it is her birthday, and the ID's day has passed.
        tree[path: "submitted_at"] = "2026-11-25T00:00:00+08:00"
        #expect(codes(tree) == ["APPLICANT_NOT_MINOR@applicant.birth_date", "ID_EXPIRED@applicant.id_valid_to"])
    }

    @Test("siblings: a bank event's `at` with nine fraction digits keeps its day")
    func bankEventAt() throws {
        let json = #"{"application_id":"a-1","order_id":"ORD-a-1","event":"at_branch","reason":null,"at":"2026-12-24T23:59:59.999999999+08:00"}"#
        let event = try CardJSON.decode(BankEvent.self, from: Array(json.utf8))
        #expect(event.at.shanghaiDate == CivilDate("2026-12-24"))
    }
}
