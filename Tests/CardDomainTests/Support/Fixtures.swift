import Foundation
import JSONCodec
import Testing

@testable import CardDomain

/// Sample data: the contract's example submission as a mutable JSON tree, and helpers to
/// break it one field at a time.
enum Fixtures {
    static let agentID = "110105198503072444"  // female, born 1985-03-07 (contract example)
    static let applicantID = "110105201503070013"  // male, born 2015-03-07 (contract example)

    /// The contract's example, with its ATTACHMENT placeholders filled in.
    static let sampleJSON = """
    {
      "schema": "card.submission.v1",
      "submission_id": "web-20261125-000123",
      "channel": "hrss_web",
      "submitted_at": "2026-11-25T10:15:00+08:00",
      "consents": {"disclaimer": true, "commitment": true, "data_authorization": true},
      "agent": {
        "name": "张三", "id_type": "resident_id", "id_number": "110105198503072444",
        "id_valid_from": "2015-06-01", "id_valid_to": "2035-06-01",
        "gender": "female", "mobile": "13412342458", "relationship": "mother",
        "documents": {"id_front": \(attachment("agent_id_front.jpg")), "id_back": \(attachment("agent_id_back.jpg"))}
      },
      "applicant": {
        "name": "代办二十五", "id_type": "resident_id", "id_number": "110105201503070013",
        "id_valid_from": "2023-01-10", "id_valid_to": "2028-01-10",
        "gender": "male", "birth_date": "2015-03-07", "nationality": "CHN",
        "ethnicity": "01", "occupation": "student", "district": "110105",
        "address": "北京市朝阳区永安里20号", "mobile": "13412342458", "landline": "010-12345678"
      },
      "household": {"agent_is_householder": true, "same_booklet": true},
      "documents": {"photo": \(attachment("photo.jpg", bytes: 48213, width: 358, height: 441)),
                    "id_front": \(attachment("id_front.jpg")), "id_back": \(attachment("id_back.jpg")),
                    "birth_certificate": \(attachment("birth_certificate.png", mediaType: "image/png"))},
      "card": {"bank": "BOB", "branch": "BOB-0105-01", "pickup": "agent_branch_pickup",
               "functions": ["social_security", "medical_settlement"]}
    }
    """

    static func attachment(
        _ file: String, bytes: Int = 402_551, mediaType: String = "image/jpeg", width: Int = 1280, height: Int = 808
    ) -> String {
        """
        {"uri": "s3://card-uploads/2026/11/25/web-20261125-000123/\(file)", \
        "sha256": "\(String(repeating: "ab", count: 32))", "bytes": \(bytes), \
        "media_type": "\(mediaType)", "width": \(width), "height": \(height)}
        """
    }

    static func attachmentValue(_ file: String = "page.jpg") -> JSONValue {
        JSONValue(parsing: Data(attachment(file).utf8))!
    }

    /// A fresh copy of the valid sample.
    static func sample() -> JSONValue { JSONValue(parsing: Data(sampleJSON.utf8))! }

    /// A valid ID number for someone born on `born` (`YYYY-MM-DD`).
    static func id(born: String, _ gender: Gender, region: String = "110105", serial: Int = 7) -> String {
        IDNumber.make(region: region, birthDate: CivilDate(born)!, gender: gender, serial: serial)!.rawValue
    }

    /// The sample with the applicant born on `born` (number, birth date and a matching
    /// gender kept consistent) and submitted at `submittedAt`.
    static func applicant(born: String, submittedAt: String = "2026-11-25T10:15:00+08:00", gender: Gender = .male) -> JSONValue {
        var tree = sample()
        tree[path: "submitted_at"] = .string(submittedAt)
        tree[path: "applicant.id_number"] = .string(id(born: born, gender))
        tree[path: "applicant.birth_date"] = .string(born)
        tree[path: "applicant.gender"] = .string(gender.rawValue)
        return tree
    }

    static let photo = JSONValue(parsing: Data(attachment("photo.jpg", bytes: 48213, width: 358, height: 441).utf8))!

    /// A household-register sample: agent is householder on the same booklet, so the
    /// householder's own page is needed and the birth certificate is not.
    static func householdRegister(born: String = "2020-05-20") -> JSONValue {
        var tree = applicant(born: born)
        tree[path: "applicant.id_type"] = "household_register"
        tree[path: "applicant.id_valid_to"] = "long_term"
        tree[path: "household"] = .object(["agent_is_householder": true, "same_booklet": true])
        tree[path: "documents"] = .object([
            "photo": photo,
            "householder_page": attachmentValue("householder_page.jpg"),
            "applicant_page": attachmentValue("applicant_page.jpg"),
            "householder_own_page": attachmentValue("householder_own_page.jpg"),
        ])
        return tree
    }
}

// MARK: - Running the validator

extension JSONValue {
    var bytes: Data { try! CardJSON.encode(self) }
}

/// Validates a tree and returns the parsed submission; records an issue for a dead letter.
func parse(_ tree: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> ParsedSubmission? {
    guard case .parsed(let parsed) = IntakeValidator.validate(tree.bytes) else {
        Issue.record("expected a parsed submission", sourceLocation: sourceLocation)
        return nil
    }
    return parsed
}

/// The reasons intake gives for a tree.
func reasons(_ tree: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> [Reason] {
    parse(tree, sourceLocation: sourceLocation)?.reasons ?? []
}

/// The reasons as `CODE@field` strings, which read well in failure messages.
func codes(_ tree: JSONValue, sourceLocation: SourceLocation = #_sourceLocation) -> [String] {
    reasons(tree, sourceLocation: sourceLocation).map { "\($0.code.rawValue)@\($0.field ?? "-")" }
}

// MARK: - Editing trees by dotted path

extension JSONValue {
    /// Reads or writes a member by dotted path (`applicant.birth_date`); writing `nil`
    /// removes the member. Intermediate objects must exist.
    subscript(path path: String) -> JSONValue? {
        get {
            var node: JSONValue? = self
            for key in path.split(separator: ".") { node = node?[String(key)] }
            return node
        }
        set {
            let keys = path.split(separator: ".").map(String.init)
            self = Self.setting(self, keys[...], newValue)
        }
    }

    private static func setting(_ node: JSONValue, _ keys: ArraySlice<String>, _ value: JSONValue?) -> JSONValue {
        guard case .object(var members) = node, let key = keys.first else { return node }
        if keys.count == 1 {
            members[key] = value
        } else if let child = members[key] {
            members[key] = setting(child, keys.dropFirst(), value)
        }
        return .object(members)
    }
}
