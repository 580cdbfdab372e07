import Foundation
import JSONCodec
import Testing

@testable import CardDomain

/// Issue 11 (sizes), cases ow-04a and ow-04c: what intake says must always fit in one record.
@Suite("Sizes: bounded reasons, SUBMISSION_TOO_LARGE, SHA-256")
struct SizeBoundsTests {
    /// ow-04a: `card.functions` holding 20,000 non-strings (one SCHEMA_INVALID per element unbounded).
    static func amplifier(elements: Int = 20_000) -> JSONValue {
        var tree = Fixtures.sample()
        tree[path: "card.functions"] = .array(Array(repeating: .integer(0), count: elements))
        return tree
    }

    @Test("ow-04a: 20,000 wrong-typed functions give a bounded SCHEMA_INVALID list whose status fits in a record")
    func amplifierIsBounded() throws {
        let bytes = Self.amplifier().bytes
        #expect(bytes.count < 60_000, "the input is small: \(bytes.count) bytes")
        let parsed = try #require(parse(Self.amplifier()))
        #expect(!parsed.isAccepted)
        #expect(parsed.reasons.count == ReasonBounds.maxPerCode)
        #expect(parsed.reasons.allSatisfy { $0.code == .schemaInvalid })
        #expect(parsed.reasons.first?.field == "card.functions[0]")
        let summary = try #require(parsed.reasons.last)
        #expect(summary.field == "card.functions", "the summary names the common parent")
        #expect(summary.message.contains("\(20_000 - (ReasonBounds.maxPerCode - 1))"), "the summary counts the rest: \(summary.message)")
        let status = StatusEvent(applicationID: parsed.submissionID, status: .rejected, reasons: parsed.reasons, at: Timestamp(Date()), seq: 1)
        let encoded = try CardJSON.encode(status)
        #expect(encoded.count < 10_000, "status of \(encoded.count) bytes")
    }

    @Test("bounding keeps every code found, in the contract's table order, and is idempotent")
    func orderAndIdempotence() {
        var tree = Self.amplifier(elements: 50)
        tree[path: "card.bank"] = "XYZ"  // BANK_UNKNOWN, after SCHEMA_INVALID in the table
        tree[path: "consents.data_authorization"] = false  // CONSENT_MISSING, between them
        let reasons = reasons(tree)
        #expect(reasons.map(\.code.ordinal) == reasons.map(\.code.ordinal).sorted())
        #expect(Set(reasons.map(\.code)) == [.schemaInvalid, .consentMissing, .bankUnknown])
        #expect(reasons.filter { $0.code == .schemaInvalid }.count == ReasonBounds.maxPerCode)
        #expect(ReasonBounds.bounded(reasons) == reasons)
        // Up to the cap nothing is summarised.
        let few = Reason.sorted((0..<ReasonBounds.maxPerCode).map { Reason(code: .schemaInvalid, field: "card.functions[\($0)]") })
        #expect(ReasonBounds.bounded(few) == few)
    }

    @Test("fields and messages are cut on a character boundary to their byte limits")
    func longTextsAreCut() {
        let long = Reason(code: .identityMismatch, field: String(repeating: "号", count: 1000), message: String(repeating: "长", count: 1000))
        let cut = ReasonBounds.bounded([long])[0]
        #expect(cut.field!.utf8.count <= ReasonBounds.maxFieldBytes && cut.field!.hasSuffix("…"))
        #expect(cut.message.utf8.count <= ReasonBounds.maxMessageBytes && cut.message.hasSuffix("…"))
        #expect(cut.field!.dropLast().allSatisfy { $0 == "号" })
        #expect(ReasonBounds.commonParent(["agent.mobile", "applicant.mobile"]) == nil)
        #expect(ReasonBounds.commonParent(["card", "card.bank"]) == "card")
    }

    @Test("ow-04c: a submission over 256 KiB is rejected with SUBMISSION_TOO_LARGE; one at the limit is accepted")
    func submissionSizeLimit() throws {
        func padded(to size: Int) -> Data {
            var tree = Fixtures.sample()
            let base = tree.bytes.count
            let address = tree[path: "applicant.address"]!.stringValue!
            tree[path: "applicant.address"] = .string(address + String(repeating: "A", count: size - base))
            return tree.bytes
        }
        let atLimit = padded(to: SubmissionSize.maxBytes)
        #expect(atLimit.count == SubmissionSize.maxBytes)
        #expect(IntakeValidator.validate(atLimit).parsed?.isAccepted == true)
        let over = padded(to: SubmissionSize.maxBytes + 1)
        let parsed = try #require(IntakeValidator.validate(over).parsed)
        #expect(parsed.reasons.map(\.code) == [.submissionTooLarge])
        #expect(parsed.reasons.first?.code == .submissionTooLarge && parsed.reasons.first?.field == nil)
        let nearOneMiB = padded(to: 1_040_000)
        #expect(IntakeValidator.validate(nearOneMiB).parsed?.reasons.map(\.code) == [.submissionTooLarge])
    }

    @Test("SHA-256 matches the FIPS 180-4 test vectors")
    func sha256Vectors() {
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex(Array(repeating: UInt8(ascii: "a"), count: 1000)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}
