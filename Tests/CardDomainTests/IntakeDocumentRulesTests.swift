import Foundation
import JSONCodec
import Testing

@testable import CardDomain

@Suite("Intake: documents and the photo")
struct IntakeDocumentRulesTests {
    // MARK: - DOCUMENT_MISSING

    @Test("DOCUMENT_MISSING for each slot a resident-ID application needs", arguments: [
        "documents.photo", "documents.id_front", "documents.id_back", "documents.birth_certificate",
        "agent.documents.id_front", "agent.documents.id_back",
    ])
    func residentIDSlot(_ path: String) {
        var tree = Fixtures.sample()
        tree[path: path] = nil
        #expect(codes(tree) == ["DOCUMENT_MISSING@\(path)"])
    }

    @Test("a null slot is no document: DOCUMENT_MISSING for the slot, as when absent (contract additions, null in optional fields)")
    func nullSlot() {
        var tree = Fixtures.sample()
        tree[path: "documents.birth_certificate"] = .null
        #expect(codes(tree) == ["DOCUMENT_MISSING@documents.birth_certificate"])
    }

    @Test("optional change pages are never missing, but must be well-formed when present")
    func optionalPages() {
        var tree = Fixtures.sample()
        tree[path: "documents.applicant_change_page"] = Fixtures.attachmentValue()
        tree[path: "documents.householder_change_page"] = Fixtures.attachmentValue()
        #expect(codes(tree) == [])
        tree[path: "documents.householder_change_page"] = "s3://x/y.jpg"
        #expect(codes(tree) == ["SCHEMA_INVALID@documents.householder_change_page"])
    }

    @Test("household register, agent is householder on the same booklet: householder, applicant and own page")
    func householdRegisterSameBooklet() {
        var tree = Fixtures.householdRegister()
        #expect(codes(tree) == [])
        for slot in ["householder_page", "applicant_page", "householder_own_page"] {
            var broken = tree
            broken[path: "documents." + slot] = nil
            #expect(codes(broken) == ["DOCUMENT_MISSING@documents.\(slot)"])
        }
        // The ID card sides are not needed with the household register.
        tree[path: "documents.id_front"] = nil
        #expect(codes(tree) == [])
    }

    @Test("household register on another booklet: the birth certificate is needed")
    func householdRegisterOtherBooklet() {
        var tree = Fixtures.householdRegister()
        tree[path: "household.same_booklet"] = false
        #expect(codes(tree) == ["DOCUMENT_MISSING@documents.birth_certificate"])
        tree[path: "documents.birth_certificate"] = Fixtures.attachmentValue()
        #expect(codes(tree) == [])
    }

    @Test("household register, agent not the householder: no own page, but the birth certificate")
    func householdRegisterNotHouseholder() {
        var tree = Fixtures.householdRegister()
        tree[path: "household.agent_is_householder"] = false
        tree[path: "documents.householder_own_page"] = nil
        #expect(codes(tree) == ["DOCUMENT_MISSING@documents.birth_certificate"])
    }

    @Test("the document matrix as a function")
    func matrix() {
        #expect(DocumentRules.requiredSlots(idType: .residentID, agentIsHouseholder: nil, sameBooklet: nil)
            == [.photo, .idFront, .idBack, .birthCertificate])
        #expect(DocumentRules.requiredSlots(idType: .householdRegister, agentIsHouseholder: true, sameBooklet: true)
            == [.photo, .householderPage, .applicantPage, .householderOwnPage])
        #expect(DocumentRules.requiredSlots(idType: .householdRegister, agentIsHouseholder: true, sameBooklet: false)
            == [.photo, .householderPage, .applicantPage, .householderOwnPage, .birthCertificate])
        #expect(DocumentRules.requiredSlots(idType: .householdRegister, agentIsHouseholder: false, sameBooklet: true)
            == [.photo, .householderPage, .applicantPage, .birthCertificate])
        // Unknown answers: only what is certain.
        #expect(DocumentRules.requiredSlots(idType: .householdRegister, agentIsHouseholder: nil, sameBooklet: nil)
            == [.photo, .householderPage, .applicantPage])
    }

    // MARK: - PHOTO_SIZE_OUT_OF_RANGE

    @Test("PHOTO_SIZE_OUT_OF_RANGE: 20480 and 9175040 bytes are allowed, one byte outside each is not", arguments: [
        (20_480, false), (20_479, true), (9_175_040, false), (9_175_041, true), (0, true),
    ])
    func photoSize(_ bytes: Int64, _ outOfRange: Bool) {
        var tree = Fixtures.sample()
        tree[path: "documents.photo.bytes"] = .integer(bytes)
        #expect(codes(tree) == (outOfRange ? ["PHOTO_SIZE_OUT_OF_RANGE@documents.photo.bytes"] : []))
    }

    @Test("a size a JavaScript or Java client writes as a double (193486.0) is the integer it means; 193486.5 is not an integer")
    func photoSizeAsDouble() {
        var tree = Fixtures.sample()
        tree[path: "documents.photo.bytes"] = .number(193_486.0)
        #expect(codes(tree) == [])
        tree[path: "documents.photo.bytes"] = .number(20_479.0)
        #expect(codes(tree) == ["PHOTO_SIZE_OUT_OF_RANGE@documents.photo.bytes"])
        tree[path: "documents.photo.bytes"] = .number(193_486.5)
        #expect(codes(tree) == ["SCHEMA_INVALID@documents.photo.bytes"])
    }

    // MARK: - PHOTO_DIMENSIONS_INVALID

    @Test("PHOTO_DIMENSIONS_INVALID unless exactly 358 × 441", arguments: [
        (358, 441, false), (441, 358, true), (358, 440, true), (359, 441, true), (716, 882, true),
    ])
    func photoDimensions(_ width: Int64, _ height: Int64, _ invalid: Bool) {
        var tree = Fixtures.sample()
        tree[path: "documents.photo.width"] = .integer(width)
        tree[path: "documents.photo.height"] = .integer(height)
        #expect(codes(tree) == (invalid ? ["PHOTO_DIMENSIONS_INVALID@documents.photo"] : []))
    }

    // MARK: - PHOTO_FORMAT_INVALID

    @Test("PHOTO_FORMAT_INVALID unless image/jpeg or image/png (media types ignore case)", arguments: [
        ("image/jpeg", false), ("image/png", false), ("IMAGE/JPEG", false),
        ("image/gif", true), ("image/heic", true), ("application/pdf", true), ("image/jpg", true),
    ])
    func photoFormat(_ mediaType: String, _ invalid: Bool) {
        var tree = Fixtures.sample()
        tree[path: "documents.photo.media_type"] = .string(mediaType)
        #expect(codes(tree) == (invalid ? ["PHOTO_FORMAT_INVALID@documents.photo.media_type"] : []))
    }

    @Test("photo limits do not apply to other documents")
    func limitsOnlyForPhoto() {
        var tree = Fixtures.sample()
        tree[path: "documents.birth_certificate.media_type"] = "application/pdf"
        tree[path: "documents.birth_certificate.bytes"] = 10_000_000
        #expect(codes(tree) == [])
    }

    @Test("a photo breaking all three limits gets all three reasons")
    func photoAllLimits() {
        var tree = Fixtures.sample()
        tree[path: "documents.photo"] = JSONValue(parsing: Data(
            Fixtures.attachment("p.gif", bytes: 100, mediaType: "image/gif", width: 10, height: 10).utf8))
        #expect(codes(tree) == [
            "PHOTO_SIZE_OUT_OF_RANGE@documents.photo.bytes", "PHOTO_DIMENSIONS_INVALID@documents.photo",
            "PHOTO_FORMAT_INVALID@documents.photo.media_type",
        ])
    }

    // MARK: - DEFAULT_PHOTO_NOT_ALLOWED

    @Test("DEFAULT_PHOTO_NOT_ALLOWED from 7 on the day; 6 the day before may use it")
    func defaultPhotoAge() {
        var tree = Fixtures.householdRegister(born: "2019-11-25")
        tree[path: "documents.photo"] = ["default_photo": true]
        #expect(codes(tree) == ["DEFAULT_PHOTO_NOT_ALLOWED@documents.photo"])

        tree = Fixtures.householdRegister(born: "2019-11-26")
        tree[path: "documents.photo"] = ["default_photo": true]
        #expect(codes(tree) == [])
    }

    @Test("the default photo is a photo: it satisfies the slot and skips the size rules")
    func defaultPhotoSatisfiesSlot() {
        var tree = Fixtures.applicant(born: "2022-01-01")
        tree[path: "documents.photo"] = ["default_photo": true]
        #expect(codes(tree) == [])
    }

    @Test("default_photo false, or beside a claim check, is a schema error")
    func defaultPhotoShape() {
        var tree = Fixtures.applicant(born: "2022-01-01")
        tree[path: "documents.photo"] = ["default_photo": false]
        #expect(codes(tree) == ["SCHEMA_INVALID@documents.photo.default_photo"])
        tree[path: "documents.photo"] = ["default_photo": true, "uri": "s3://x/y.jpg"]
        #expect(codes(tree) == ["SCHEMA_INVALID@documents.photo"])
        // Only the photo slot may use it.
        tree = Fixtures.sample()
        tree[path: "documents.id_front"] = ["default_photo": true]
        #expect(codes(tree).allSatisfy { $0.hasPrefix("SCHEMA_INVALID@documents.id_front.") })
        #expect(!codes(tree).isEmpty)
    }
}
