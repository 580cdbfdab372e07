import Foundation
import JSONCodec

/// The stateless intake rules of the contract, applied to one `card.submission` value.
///
/// Every broken rule is reported at once. To do that the record is walked as a generic
/// JSON tree: a missing or mistyped field becomes one `SCHEMA_INVALID` at its path and the
/// rules that do not depend on it are still evaluated. `SCHEMA_INVALID` is reported
/// exactly where `Topics/card.submission.json` fails; the "absence" rules
/// (`CONSENT_MISSING`, `DOCUMENT_MISSING`, `HOUSEHOLD_ANSWERS_MISSING`) fire whenever the
/// thing is absent, whether or not the schema also complains (a consent that is missing
/// is both a schema error and "not true").
///
/// `DUPLICATE_ACTIVE_APPLICATION` needs the worker's state and is not checked here; see
/// ``Reason/duplicateActiveApplication()`` and ``ParsedSubmission/add(_:)``.
public enum IntakeValidator {
    /// Validates the raw value bytes of a `card.submission` record.
    public static func validate(_ bytes: some Collection<UInt8>) -> IntakeOutcome {
        validate(bytes, parsed: JSONValue(parsing: bytes))
    }

    /// ``validate(_:)`` with the tree `JSONValue(parsing: bytes)` the caller parsed already
    /// (intake derives the contract key from it first): one parse per record instead of two.
    public static func validate(_ bytes: some Collection<UInt8>, parsed: JSONValue?) -> IntakeOutcome {
        let data = bytes as? Data ?? Data(bytes)
        guard let root = parsed else {
            // Never quote the payload: it is full of personal data.
            let utf8 = String(data: data, encoding: .utf8) != nil
            return .notJSON(error: utf8
                ? "payload is not JSON: \(JSONValue.parseFailure(data) ?? "unreadable")"
                : "payload is not UTF-8 text, so not JSON (\(data.count) bytes)")
        }
        guard case .object(let top) = root else {
            return .noUsableSubmissionID(error: "payload is JSON but a \(root.typeName), not an object, so it has no submission_id")
        }
        guard let idValue = top["submission_id"] else {
            return .noUsableSubmissionID(error: "submission_id is missing")
        }
        guard let submissionID = idValue.stringValue else {
            return .noUsableSubmissionID(error: "submission_id is a \(idValue.typeName), not a string")
        }
        guard Catalogues.isSubmissionID(submissionID) else {
            return .noUsableSubmissionID(
                error: "submission_id is not 1-64 of [A-Za-z0-9_-] (\(submissionID.count) characters)")
        }

        var walk = SubmissionWalk()
        walk.run(top)
        var reasons = walk.reasons
        if let tooLarge = SubmissionSize.reason(byteCount: data.count) { reasons.append(tooLarge) }
        var submission: Submission?
        if reasons.isEmpty {
            // The tree passed every check, so the typed decode is expected to succeed; if it
            // ever disagrees, report where instead of accepting or crashing.
            do {
                submission = try root.decode(Submission.self)
            } catch {
                reasons.append(Reason(code: .schemaInvalid, field: Self.path(of: error)))
            }
        }
        return .parsed(ParsedSubmission(
            submissionID: submissionID, reasons: reasons, submission: submission,
            applicantIDNumber: walk.applicantIDNumber))
    }

    /// The dotted path a `DecodingError` points at (`applicant.birth_date`).
    static func path(of error: any Error) -> String {
        let codingPath: [any CodingKey]
        switch error as? DecodingError {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            codingPath = context.codingPath
        case .keyNotFound(let key, let context):
            codingPath = context.codingPath + [key]
        default:
            codingPath = []
        }
        return codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }
            .joined().trimmingPrefix(".").description
    }
}

// MARK: - The walk

/// One pass over a submission tree, collecting reasons. Each `read…` helper reports
/// `SCHEMA_INVALID` for a missing or mistyped member and returns `nil`; when the parent
/// itself is missing (`nil`) it returns `nil` silently, the parent having been reported.
struct SubmissionWalk {
    typealias Object = [String: JSONValue]

    private(set) var reasons: [Reason] = []
    private(set) var applicantIDNumber: String?

    mutating func run(_ top: Object) {
        // MARK: Envelope
        if let schema = readString(top, "schema", at: ""), schema != Submission.schemaName {
            add(.schemaInvalid, "schema")
        }
        _ = readEnum(Channel.self, top, "channel", at: "")
        let today = readTimestamp(top, "submitted_at", at: "")?.shanghaiDate

        // MARK: Consents
        let consents = readObject(top, "consents", at: "")
        for name in ["disclaimer", "commitment", "data_authorization"] {
            let path = "consents." + name
            guard let consents else {
                add(.consentMissing, path)
                continue
            }
            switch consents[name] {
            case .bool(true): break
            case .bool(false): add(.consentMissing, path)
            default:
                add(.schemaInvalid, path)
                add(.consentMissing, path)
            }
        }

        // MARK: Agent
        let agent = readObject(top, "agent", at: "")
        _ = readText(agent, "name", at: "agent")
        if let idType = readEnum(IDType.self, agent, "id_type", at: "agent"), idType != .residentID {
            add(.schemaInvalid, "agent.id_type")  // the agent may only use a resident ID
        }
        let agentID = readIDNumber(agent, at: "agent", bornBy: today)
        let agentFrom = readDate(agent, "id_valid_from", at: "agent")
        let agentTo = readValidity(agent, "id_valid_to", at: "agent")
        let agentGender = readEnum(Gender.self, agent, "gender", at: "agent")
        if let mobile = readString(agent, "mobile", at: "agent"), !Catalogues.isMobile(mobile) {
            add(.mobileInvalid, "agent.mobile")
        }
        let relationship = readEnum(Relationship.self, agent, "relationship", at: "agent")
        let agentDocuments = readObject(agent, "documents", at: "agent")

        // MARK: Applicant
        let applicant = readObject(top, "applicant", at: "")
        _ = readText(applicant, "name", at: "applicant")
        let idType = readEnum(IDType.self, applicant, "id_type", at: "applicant")
        let applicantID = readIDNumber(applicant, at: "applicant", bornBy: today)
        let applicantFrom = readDate(applicant, "id_valid_from", at: "applicant")
        let applicantTo = readValidity(applicant, "id_valid_to", at: "applicant")
        let applicantGender = readEnum(Gender.self, applicant, "gender", at: "applicant")
        let birthDate = readDate(applicant, "birth_date", at: "applicant")
        if let nationality = readString(applicant, "nationality", at: "applicant"), nationality != "CHN" {
            add(.nationalityNotSupported, "applicant.nationality")
        }
        if let ethnicity = readString(applicant, "ethnicity", at: "applicant"), Catalogues.ethnicityName(ethnicity) == nil {
            add(.ethnicityInvalid, "applicant.ethnicity")
        }
        if let occupation = readString(applicant, "occupation", at: "applicant"), !Catalogues.isOccupation(occupation) {
            add(.occupationInvalid, "applicant.occupation")
        }
        if let district = readString(applicant, "district", at: "applicant"), !Catalogues.isBeijingDistrict(district) {
            add(.districtInvalid, "applicant.district")
        }
        if let address = readString(applicant, "address", at: "applicant"), !Catalogues.hasHouseNumber(address) {
            add(.addressNotPrecise, "applicant.address")
        }
        if let mobile = readString(applicant, "mobile", at: "applicant"), !Catalogues.isMobile(mobile) {
            add(.mobileInvalid, "applicant.mobile")
        }
        if let applicant, !isAbsent(applicant["landline"]),
           let landline = readString(applicant, "landline", at: "applicant"), !Catalogues.isLandline(landline) {
            add(.landlineInvalid, "applicant.landline")
        }

        // MARK: Household (only with the household register)
        var agentIsHouseholder: Bool?
        var sameBooklet: Bool?
        if idType == .householdRegister {
            if let household = readObject(top.filter { $0.value != .null }, "household", at: "") {
                agentIsHouseholder = readOptionalBool(household, "agent_is_householder", at: "household")
                sameBooklet = readOptionalBool(household, "same_booklet", at: "household")
            }
            if agentIsHouseholder == nil || sameBooklet == nil {
                add(.householdAnswersMissing, "household")
            }
        }

        // MARK: Documents
        let documents = readObject(top, "documents", at: "")
        var photo: Attachment?
        for slot in DocumentRules.Slot.allCases {
            guard let documents, let value = documents[slot.rawValue], value != .null else { continue }
            if slot == .photo {
                photo = readPhoto(value)
            } else {
                _ = readClaimCheck(value, at: slot.path)
            }
        }
        for slot in DocumentRules.AgentSlot.allCases {
            if let agentDocuments, let value = agentDocuments[slot.rawValue], value != .null {
                _ = readClaimCheck(value, at: slot.path)
            }
        }
        // Required slots: absent (or null, which is no document) is DOCUMENT_MISSING. Without
        // a readable id_type only the slots every application needs can be asked for.
        let required = idType.map {
            DocumentRules.requiredSlots(idType: $0, agentIsHouseholder: agentIsHouseholder, sameBooklet: sameBooklet)
        } ?? [.photo]
        for slot in DocumentRules.AgentSlot.allCases where isAbsent(agentDocuments?[slot.rawValue]) {
            add(.documentMissing, slot.path)
        }
        for slot in required where isAbsent(documents?[slot.rawValue]) {
            add(.documentMissing, slot.path)
        }

        // MARK: Card
        let card = readObject(top, "card", at: "")
        if let bank = readString(card, "bank", at: "card"), Bank(rawValue: bank) == nil {
            add(.bankUnknown, "card.bank")
        }
        _ = readString(card, "branch", at: "card")
        if let pickup = readString(card, "pickup", at: "card"), PickupMethod(rawValue: pickup) == nil {
            add(.pickupMethodNotSupported, "card.pickup")
        }
        if let card {
            if let functions = card["functions"] {
                if let items = functions.arrayValue {
                    for (index, item) in items.enumerated() where (item.stringValue ?? "").isEmpty {
                        add(.schemaInvalid, "card.functions[\(index)]")
                    }
                } else {
                    add(.schemaInvalid, "card.functions")
                }
            } else {
                add(.schemaInvalid, "card.functions")
            }
        }

        // MARK: Rules across fields
        if let agentID, let agentGender, agentID.gender != agentGender {
            add(.idGenderMismatch, "agent.gender")
        }
        if let applicantID {
            if let applicantGender, applicantID.gender != applicantGender {
                add(.idGenderMismatch, "applicant.gender")
            }
            if let birthDate, applicantID.birthDate != birthDate {
                add(.idBirthDateMismatch, "applicant.birth_date")
            }
        }
        if let relationship, let agentGender,
           (relationship == .father && agentGender == .female) || (relationship == .mother && agentGender == .male) {
            add(.relationshipGenderMismatch, "agent.relationship")
        }

        // MARK: Rules that need "today"
        guard let today else { return }
        // The number's date is the authoritative one (the registry is keyed by it); the
        // stated birth_date is the fallback when the number is unusable.
        if let applicantBirth = applicantID?.birthDate ?? birthDate {
            let age = applicantBirth.age(on: today)
            if age >= AgeLimits.adult { add(.applicantNotMinor, "applicant.birth_date") }
            if age >= AgeLimits.householdRegisterBelow, idType == .householdRegister {
                add(.idTypeNotAllowed, "applicant.id_type")
            }
            if age >= AgeLimits.defaultPhotoBelow, photo == .defaultPhoto {
                add(.defaultPhotoNotAllowed, "documents.photo")
            }
        }
        if let agentID, agentID.birthDate.age(on: today) < AgeLimits.adult {
            add(.agentNotAdult, "agent.id_number")
        }
        checkValidity(from: agentFrom, to: agentTo, today: today, person: "agent")
        checkValidity(from: applicantFrom, to: applicantTo, today: today, person: "applicant")
    }

    /// ID_EXPIRED when the period ended before `today` (the last day still counts) or starts
    /// after it; one reason per person, at `id_valid_to` as the contract says, even when it
    /// is the start that is wrong.
    private mutating func checkValidity(from: CivilDate?, to: Submission.Validity?, today: CivilDate, person: String) {
        let notYet = from.map { today < $0 } ?? false
        let ended = to.map { !$0.covers(today) } ?? false
        if notYet || ended { add(.idExpired, person + ".id_valid_to") }
    }

    // MARK: - Readers

    private mutating func add(_ code: ReasonCode, _ field: String) {
        reasons.append(Reason(code: code, field: field))
    }

    private func join(_ parent: String, _ key: String) -> String { parent.isEmpty ? key : parent + "." + key }

    private func isAbsent(_ value: JSONValue?) -> Bool { value == nil || value == .null }

    /// A required member of `parent`; `nil` (reported) when missing, `nil` (silent) when the
    /// parent is.
    private mutating func member(_ parent: Object?, _ key: String, at path: String) -> JSONValue? {
        guard let parent else { return nil }
        guard let value = parent[key] else {
            add(.schemaInvalid, join(path, key))
            return nil
        }
        return value
    }

    private mutating func typed<T>(_ parent: Object?, _ key: String, at path: String, _ convert: (JSONValue) -> T?) -> T? {
        guard let value = member(parent, key, at: path) else { return nil }
        guard let converted = convert(value) else {
            add(.schemaInvalid, join(path, key))
            return nil
        }
        return converted
    }

    mutating func readObject(_ parent: Object?, _ key: String, at path: String) -> Object? {
        typed(parent, key, at: path) { $0.objectValue }
    }

    mutating func readString(_ parent: Object?, _ key: String, at path: String) -> String? {
        typed(parent, key, at: path) { $0.stringValue }
    }

    /// A string that must not be empty (names).
    mutating func readText(_ parent: Object?, _ key: String, at path: String) -> String? {
        typed(parent, key, at: path) { $0.stringValue.flatMap { $0.isEmpty ? nil : $0 } }
    }

    mutating func readEnum<E: RawRepresentable>(_ type: E.Type, _ parent: Object?, _ key: String, at path: String) -> E?
    where E.RawValue == String {
        typed(parent, key, at: path) { $0.stringValue.flatMap(E.init(rawValue:)) }
    }

    mutating func readDate(_ parent: Object?, _ key: String, at path: String) -> CivilDate? {
        typed(parent, key, at: path) { $0.stringValue.flatMap { CivilDate($0) } }
    }

    mutating func readValidity(_ parent: Object?, _ key: String, at path: String) -> Submission.Validity? {
        typed(parent, key, at: path) { $0.stringValue.flatMap(Submission.Validity.init) }
    }

    mutating func readTimestamp(_ parent: Object?, _ key: String, at path: String) -> Timestamp? {
        typed(parent, key, at: path) { $0.stringValue.flatMap { Timestamp(rfc3339: $0) } }
    }

    /// An optional boolean: absent or `null` is `nil` silently, anything else not a boolean
    /// is reported.
    mutating func readOptionalBool(_ parent: Object, _ key: String, at path: String) -> Bool? {
        guard let value = parent[key], value != .null else { return nil }
        guard let bool = value.boolValue else {
            add(.schemaInvalid, join(path, key))
            return nil
        }
        return bool
    }

    /// `id_number`: a string (else SCHEMA_INVALID) that must be a valid GB 11643 number
    /// naming someone already born on `today` (else ID_NUMBER_INVALID, and the number is
    /// treated as unusable: no age or sex rule is derived from it). Remembers the
    /// applicant's as written for the duplicate check.
    mutating func readIDNumber(_ parent: Object?, at path: String, bornBy today: CivilDate?) -> IDNumber? {
        guard let text = readString(parent, "id_number", at: path) else { return nil }
        if path == "applicant" { applicantIDNumber = text }
        guard let number = IDNumber(text), !number.namesNoOneBornBy(today) else {
            add(.idNumberInvalid, path + ".id_number")
            return nil
        }
        return number
    }

    /// A claim check at `path`; each missing or mistyped member is its own SCHEMA_INVALID.
    mutating func readClaimCheck(_ value: JSONValue, at path: String) -> ClaimCheck? {
        guard let object = value.objectValue else {
            add(.schemaInvalid, path)
            return nil
        }
        let uri = typed(object, "uri", at: path) { $0.stringValue.flatMap { Catalogues.isURI($0) ? $0 : nil } }
        let sha = typed(object, "sha256", at: path) { $0.stringValue.flatMap { Catalogues.isSHA256($0) ? $0 : nil } }
        let bytes = readCount(object, "bytes", at: path)
        let mediaType = readText(object, "media_type", at: path)
        let width = readCount(object, "width", at: path)
        let height = readCount(object, "height", at: path)
        guard let uri, let sha, let bytes, let mediaType, let width, let height else { return nil }
        return ClaimCheck(uri: uri, sha256: sha, bytes: bytes, mediaType: mediaType, width: width, height: height)
    }

    /// A non-negative integer that fits in `Int`.
    private mutating func readCount(_ object: Object, _ key: String, at path: String) -> Int? {
        typed(object, key, at: path) { value in
            value.integerValue.flatMap { $0 >= 0 ? Int(exactly: $0) : nil }
        }
    }

    /// `documents.photo`: `{"default_photo": true}` and nothing else, or a claim check that
    /// also obeys the photo limits. Limits are checked on whichever members are readable.
    mutating func readPhoto(_ value: JSONValue) -> Attachment? {
        let path = DocumentRules.Slot.photo.path
        guard let object = value.objectValue else {
            add(.schemaInvalid, path)
            return nil
        }
        if let flag = object["default_photo"] {
            if flag != .bool(true) {
                add(.schemaInvalid, path + ".default_photo")
                return nil
            }
            // The schema allows nothing beside the flag: a photo cannot be both.
            guard object.count == 1 else {
                add(.schemaInvalid, path)
                return nil
            }
            return .defaultPhoto
        }
        let check = readClaimCheck(value, at: path)
        if let bytes = object["bytes"]?.integerValue, bytes >= 0, !DocumentRules.isPhotoSizeAllowed(Int(clamping: bytes)) {
            add(.photoSizeOutOfRange, path + ".bytes")
        }
        if let width = object["width"]?.integerValue, let height = object["height"]?.integerValue,
           width >= 0, height >= 0,
           !DocumentRules.isPhotoDimensionAllowed(width: Int(clamping: width), height: Int(clamping: height)) {
            add(.photoDimensionsInvalid, path)
        }
        if let mediaType = object["media_type"]?.stringValue, !mediaType.isEmpty,
           !DocumentRules.isPhotoMediaTypeAllowed(mediaType) {
            add(.photoFormatInvalid, path + ".media_type")
        }
        return check.map(Attachment.claimCheck)
    }
}
