import CardDomain
import Foundation

// The JSON bodies of the gateway's answers, as Resources/openapi.json describes them.

/// `POST /v1/eligibility` 200. Nullable members are written as `null`, never left out.
struct EligibilityBody: Encodable {
    let answer: EligibilityRules.Answer

    init(_ answer: EligibilityRules.Answer) { self.answer = answer }

    struct RelationshipBody: Encodable {
        var code: String
        var label: String
    }

    enum CodingKeys: String, CodingKey {
        case eligible, reasons, relationship, age, household
        case idTypesAllowed = "id_types_allowed"
        case defaultPhotoAllowed = "default_photo_allowed"
        case documentsRequired = "documents_required"
        case productionDays = "production_days"
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(answer.eligible, forKey: .eligible)
        try c.encode(answer.reasons, forKey: .reasons)
        let relationship = answer.relationshipCode.flatMap { code in
            answer.relationshipLabel.map { RelationshipBody(code: code.rawValue, label: $0.rawValue) }
        }
        try c.encode(relationship, forKey: .relationship)
        try c.encode(answer.age, forKey: .age)
        try c.encode(answer.idTypesAllowed, forKey: .idTypesAllowed)
        try c.encode(answer.defaultPhotoAllowed, forKey: .defaultPhotoAllowed)
        try c.encode(answer.household, forKey: .household)
        try c.encode(Dictionary(uniqueKeysWithValues: answer.documentsRequired.map { ($0.key.rawValue, $0.value) }),
                     forKey: .documentsRequired)
        try c.encode(EligibilityRules.productionDays, forKey: .productionDays)
    }
}

/// `POST /v1/submissions` 202.
struct SubmissionAcceptedBody: Encodable {
    var applicationID: String
    var statusURL: String

    enum CodingKeys: String, CodingKey {
        case applicationID = "application_id"
        case statusURL = "status_url"
    }
}

/// `GET /v1/applications/{id}` 200.
struct ApplicationBody: Encodable {
    var applicationID: String
    var channel: String
    var status: String
    var statuses: [StatusEvent]

    enum CodingKeys: String, CodingKey {
        case applicationID = "application_id"
        case channel, status, statuses
    }
}

/// `GET /v1/branches` 200: what a portal shows for 办卡网点 (no `open`/`serves_minors`: all are).
struct BranchesBody: Encodable {
    struct Item: Encodable {
        var bank: String
        var branch: String
        var name: String
        var district: String
        var address: String

        init(_ branch: Branch) {
            bank = branch.bank
            self.branch = branch.branch
            name = branch.name
            district = branch.district
            address = branch.address
        }
    }

    var branches: [Item]
}

/// `/healthz`, `/readyz`.
struct Health: Encodable {
    var status: String
    var views: GatewayViews.Counts?
}

/// `GET /v1/catalogues`: the closed lists of the contract, code and Chinese name.
struct CataloguesBody: Encodable {
    struct CodeName: Encodable {
        var code: String
        var name: String
    }

    var banks: [CodeName]
    var districts: [CodeName]
    var ethnicities: [CodeName]
    var occupations: [CodeName]
    var idTypes: [CodeName]
    var relationships: [CodeName]
    var pickupMethods: [CodeName]
    var productionDays: Int

    enum CodingKeys: String, CodingKey {
        case banks, districts, ethnicities, occupations, relationships
        case idTypes = "id_types"
        case pickupMethods = "pickup_methods"
        case productionDays = "production_days"
    }

    static let current = CataloguesBody(
        banks: Bank.allCases.map { CodeName(code: $0.rawValue, name: $0.chineseName) },
        districts: Catalogues.beijingDistricts.sorted { $0.key < $1.key }.map { CodeName(code: $0.key, name: $0.value) },
        ethnicities: Catalogues.ethnicities.enumerated().map { CodeName(code: String(format: "%02d", $0.offset + 1), name: $0.element) },
        occupations: (["student", "preschool", "other"] + (1...8).map(String.init)).compactMap { code in
            Catalogues.occupations[code].map { CodeName(code: code, name: $0) }
        },
        idTypes: [CodeName(code: IDType.residentID.rawValue, name: "居民身份证"),
                  CodeName(code: IDType.householdRegister.rawValue, name: "户口簿")],
        relationships: [CodeName(code: Relationship.father.rawValue, name: "父亲"),
                        CodeName(code: Relationship.mother.rawValue, name: "母亲"),
                        CodeName(code: Relationship.guardian.rawValue, name: "监护人")],
        pickupMethods: [CodeName(code: PickupMethod.agentBranchPickup.rawValue, name: "代办人到银行网点领卡")],
        productionDays: EligibilityRules.productionDays)
}
