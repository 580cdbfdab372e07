import CardDomain
import Foundation

/// A mother and her son, both in the registry, and submissions for them.
struct Family {
    let index: Int
    let mother: RegistryPerson
    let child: RegistryPerson

    init(_ index: Int, childBorn: CivilDate = CivilDate(year: 2015, month: 3, day: 7)!) {
        self.index = index
        let motherID = IDNumber.make(region: "110105", birthDate: CivilDate(year: 1985, month: 3, day: 7)!, gender: .female, serial: index)!.rawValue
        let childID = IDNumber.make(region: "110105", birthDate: childBorn, gender: .male, serial: index)!.rawValue
        mother = RegistryPerson(idNumber: motherID, name: "张三", gender: .female, birthDate: CivilDate(year: 1985, month: 3, day: 7)!,
                                householdID: "H\(index)", isHouseholder: true)
        child = RegistryPerson(idNumber: childID, name: "代办二十五", gender: .male, birthDate: childBorn,
                               motherID: motherID, householdID: "H\(index)")
    }

    /// A valid submission (the contract's example) for this family; `edit` changes the JSON text.
    func submission(id: String, bank: String = "BOB", branch: String = "BOB-0105-01", childName: String? = nil,
                    mobile: String = "13412342458") -> String {
        let submittedAt = Timestamp(Date()).description
        func attachment(_ name: String, bytes: Int = 123456, mediaType: String = "image/jpeg") -> String {
            #"{"uri": "s3://card-docs/\#(id)/\#(name)", "sha256": "\#(String(repeating: "ab", count: 32))", "bytes": \#(bytes), "media_type": "\#(mediaType)", "width": 358, "height": 441}"#
        }
        return """
        {
          "schema": "card.submission.v1", "submission_id": "\(id)", "channel": "hrss_web", "submitted_at": "\(submittedAt)",
          "consents": {"disclaimer": true, "commitment": true, "data_authorization": true},
          "agent": {
            "name": "\(mother.name)", "id_type": "resident_id", "id_number": "\(mother.idNumber)",
            "id_valid_from": "2015-06-01", "id_valid_to": "2035-06-01",
            "gender": "female", "mobile": "\(mobile)", "relationship": "mother",
            "documents": {"id_front": \(attachment("agent_id_front.jpg")), "id_back": \(attachment("agent_id_back.jpg"))}
          },
          "applicant": {
            "name": "\(childName ?? child.name)", "id_type": "resident_id", "id_number": "\(child.idNumber)",
            "id_valid_from": "2023-01-10", "id_valid_to": "2028-01-10",
            "gender": "male", "birth_date": "\(child.birthDate)", "nationality": "CHN",
            "ethnicity": "01", "occupation": "student", "district": "110105",
            "address": "北京市朝阳区永安里20号", "mobile": "13412342458"
          },
          "documents": {"photo": \(attachment("photo.jpg", bytes: 48213)), "id_front": \(attachment("id_front.jpg")),
                        "id_back": \(attachment("id_back.jpg")), "birth_certificate": \(attachment("birth.png", mediaType: "image/png"))},
          "card": {"bank": "\(bank)", "branch": "\(branch)", "pickup": "agent_branch_pickup", "functions": ["social_security"]}
        }
        """
    }
}

enum DemoBranches {
    static let all: [Branch] = [
        Branch(bank: "BOB", branch: "BOB-0105-01", name: "北京银行朝阳支行", district: "110105", address: "北京市朝阳区建国路1号", open: true, servesMinors: true),
        Branch(bank: "BOB", branch: "BOB-0105-02", name: "北京银行永安里支行", district: "110105", address: "北京市朝阳区永安里2号", open: false, servesMinors: true),
        Branch(bank: "ICBC", branch: "ICBC-0105-01", name: "工商银行朝阳支行", district: "110105", address: "北京市朝阳区光华路3号", open: true, servesMinors: true),
    ]
}
