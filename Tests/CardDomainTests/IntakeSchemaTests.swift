import Foundation
import JSONCodec
import Testing

@testable import CardDomain

@Suite("Intake: SCHEMA_INVALID and reporting every rule at once")
struct IntakeSchemaTests {
    @Test("a submission breaking five rules gets exactly those five reasons, in contract order")
    func fiveRules() {
        var tree = Fixtures.sample()
        tree[path: "card.bank"] = "XYZ"  // BANK_UNKNOWN
        tree[path: "applicant.mobile"] = "12345"  // MOBILE_INVALID
        tree[path: "consents.data_authorization"] = false  // CONSENT_MISSING
        tree[path: "applicant.district"] = "310101"  // DISTRICT_INVALID (Shanghai)
        tree[path: "agent.id_valid_to"] = "2026-11-24"  // ID_EXPIRED
        #expect(codes(tree) == [
            "CONSENT_MISSING@consents.data_authorization",
            "ID_EXPIRED@agent.id_valid_to",
            "MOBILE_INVALID@applicant.mobile",
            "DISTRICT_INVALID@applicant.district",
            "BANK_UNKNOWN@card.bank",
        ])
    }

    @Test("a missing required field is SCHEMA_INVALID at its path, and the other rules are still reported")
    func missingFieldWithOtherRules() {
        var tree = Fixtures.sample()
        tree[path: "applicant.address"] = nil
        tree[path: "applicant.mobile"] = "1"
        tree[path: "documents.id_back"] = nil
        tree[path: "card.pickup"] = "post"
        #expect(codes(tree) == [
            "SCHEMA_INVALID@applicant.address",
            "DOCUMENT_MISSING@documents.id_back",
            "PICKUP_METHOD_NOT_SUPPORTED@card.pickup",
            "MOBILE_INVALID@applicant.mobile",
        ])
    }

    @Test("every required field of the contract, when missing, is SCHEMA_INVALID at its own path", arguments: [
        "schema", "channel", "submitted_at", "consents", "agent", "applicant", "documents", "card",
        "agent.name", "agent.id_type", "agent.id_number", "agent.id_valid_from", "agent.id_valid_to", "agent.gender",
        "agent.mobile", "agent.relationship", "agent.documents",
        "applicant.name", "applicant.id_type", "applicant.id_number", "applicant.id_valid_from", "applicant.id_valid_to",
        "applicant.gender", "applicant.birth_date", "applicant.nationality", "applicant.ethnicity",
        "applicant.occupation", "applicant.district", "applicant.address", "applicant.mobile",
        "card.bank", "card.branch", "card.pickup", "card.functions",
        "documents.photo.uri", "documents.photo.sha256", "documents.photo.bytes", "documents.photo.media_type",
        "documents.photo.width", "documents.photo.height", "agent.documents.id_front.uri",
    ])
    func missingRequired(_ path: String) {
        var tree = Fixtures.sample()
        tree[path: path] = nil
        let found = reasons(tree)
        #expect(found.contains(Reason(code: .schemaInvalid, field: path)), "\(found.map(\.field))")
        // Nothing below a missing object is reported as missing too.
        #expect(!found.contains { $0.code == .schemaInvalid && $0.field != path && $0.field?.hasPrefix(path + ".") == true })
    }

    @Test("a missing container also makes its absence rules fire")
    func missingContainers() {
        var tree = Fixtures.sample()
        tree[path: "agent"] = nil
        #expect(codes(tree) == [
            "SCHEMA_INVALID@agent",
            "DOCUMENT_MISSING@agent.documents.id_front", "DOCUMENT_MISSING@agent.documents.id_back",
        ])
        tree = Fixtures.sample()
        tree[path: "agent.documents"] = "none"
        #expect(codes(tree) == [
            "SCHEMA_INVALID@agent.documents",
            "DOCUMENT_MISSING@agent.documents.id_front", "DOCUMENT_MISSING@agent.documents.id_back",
        ])
        tree = Fixtures.sample()
        tree[path: "documents"] = nil
        #expect(codes(tree) == [
            "SCHEMA_INVALID@documents",
            "DOCUMENT_MISSING@documents.photo", "DOCUMENT_MISSING@documents.id_front",
            "DOCUMENT_MISSING@documents.id_back", "DOCUMENT_MISSING@documents.birth_certificate",
        ])
    }

    @Test("wrongly typed or out-of-enum fields are SCHEMA_INVALID at their path", arguments: [
        ("schema", JSONValue.string("card.submission.v2")),
        ("channel", "wechat"),
        ("submitted_at", "2026-11-25T10:15:00"),  // no offset
        ("submitted_at", "2026-11-25 10:15:00+08:00"),
        ("agent.id_type", "household_register"),  // the agent must use a resident ID
        ("agent.id_type", "passport"),
        ("agent.relationship", "uncle"),
        ("agent.name", ""),
        ("agent.name", 42),
        ("applicant.gender", "m"),
        ("applicant.birth_date", "2015-02-30"),
        ("applicant.birth_date", "20150307"),
        ("applicant.id_valid_to", "forever"),
        ("applicant.id_valid_from", "2023/01/10"),
        ("applicant.id_number", 110_105_201_503_070_013),
        ("applicant.ethnicity", 1),
        ("applicant.district", 110_105),
        ("card.bank", true),
        ("card.functions", "social_security"),
        ("documents.photo.bytes", "48213"),
        ("documents.photo.bytes", -1),
        ("documents.photo.width", 358.5),
        ("documents.photo.sha256", "abc"),
        ("documents.photo.uri", "photo.jpg"),
        ("documents.photo.media_type", ""),
        ("documents.photo", "s3://x/photo.jpg"),
    ])
    func mistyped(_ path: String, _ value: JSONValue) {
        var tree = Fixtures.sample()
        tree[path: path] = value
        #expect(codes(tree) == ["SCHEMA_INVALID@\(path)"])
    }

    @Test("a card function that is not a non-empty string is reported by index")
    func functionItems() {
        var tree = Fixtures.sample()
        tree[path: "card.functions"] = ["social_security", 3, ""]
        #expect(codes(tree) == ["SCHEMA_INVALID@card.functions[1]", "SCHEMA_INVALID@card.functions[2]"])
        tree[path: "card.functions"] = []
        #expect(codes(tree) == [])
    }

    @Test("without a usable submitted_at the date rules are skipped, the rest still run")
    func noSubmittedAt() {
        var tree = Fixtures.applicant(born: "2000-01-01")  // would be APPLICANT_NOT_MINOR
        tree[path: "submitted_at"] = "yesterday"
        tree[path: "card.bank"] = "?"
        #expect(codes(tree) == ["SCHEMA_INVALID@submitted_at", "BANK_UNKNOWN@card.bank"])
    }

    @Test("unknown extra fields are allowed everywhere (the project may add fields)")
    func extraFields() {
        var tree = Fixtures.sample()
        tree[path: "client_version"] = "minsheng-app/5.12.0"
        tree[path: "agent.nickname"] = "x"
        tree[path: "documents.photo.exif"] = ["camera": "x"]
        tree[path: "documents.other_page"] = Fixtures.attachmentValue()
        #expect(codes(tree) == [])
    }

    @Test("every reason carries a Chinese message and no personal data from the submission")
    func messages() {
        var tree = Fixtures.householdRegister(born: "2000-01-01")
        tree[path: "consents.disclaimer"] = false
        tree[path: "agent.id_number"] = "110105198503072445"
        tree[path: "agent.mobile"] = "13412342450"
        tree[path: "applicant.landline"] = "010-1"
        tree[path: "documents.photo"] = ["default_photo": true]
        tree[path: "household.same_booklet"] = .null
        tree[path: "card.pickup"] = "mail"
        let found = reasons(tree)
        #expect(found.count >= 8)
        for reason in found {
            #expect(reason.message.unicodeScalars.contains { (0x4E00...0x9FFF).contains($0.value) }, "\(reason.code)")
            #expect(!reason.message.contains("110105") && !reason.message.contains("1341234") && !reason.message.contains("张三"))
        }
        #expect(found.first { $0.code == .applicantNotMinor }?.message.contains("未满18周岁") == true)
        #expect(found.first { $0.code == .idNumberInvalid }?.message == "代办人身份证号码有误，请核对")
    }

    @Test("every reason code has a default message")
    func allCodesHaveMessages() {
        for code in ReasonCode.allCases {
            #expect(!Reason(code: code, field: "applicant.name").message.isEmpty)
        }
        // The user guide's labels: 正面 is the national-emblem side, 背面 the personal-information side.
        #expect(ReasonMessages.fieldLabel("agent.documents.id_front") == "代办人身份证正面（国徽面）")
        #expect(ReasonMessages.fieldLabel("agent.documents.id_back") == "代办人身份证背面（个人信息面）")
        #expect(ReasonMessages.fieldLabel("documents.id_front") == "身份证正面（国徽面）")
        #expect(ReasonMessages.fieldLabel("card.functions[1]") == "卡片功能第2项")
        #expect(Reason(code: .schemaInvalid, field: "applicant.birth_date").message.contains("申请人出生日期"))
    }

    // The gateway answered a body that was not JSON with "“”未填写或格式不正确": a quoted label of nothing.
    @Test("a reason about the whole record (no field) names no empty field, for every code")
    func recordWideReasonsNameNoEmptyField() {
        for code in ReasonCode.allCases {
            let message = Reason(code: code, field: nil).message
            #expect(!message.isEmpty, "\(code)")
            #expect(!message.contains("“”"), "\(code): \(message)")
            #expect(!message.hasSuffix("："), "\(code): \(message)")
        }
        #expect(Reason(code: .schemaInvalid, field: nil).message == "提交内容不是有效的JSON对象或格式不正确，请核对后重新提交")
        #expect(Reason(code: .identityMismatch, field: nil).message == "所填身份信息与户籍登记信息不一致")
        #expect(Reason(code: .documentMissing, field: nil).message == "缺少所需材料，请补充后重新提交")
    }
}
