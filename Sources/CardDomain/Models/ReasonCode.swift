/// Why an application was rejected or failed: the contract's reason codes, spelled exactly.
///
/// Cases are declared in the order of the contract's rule tables; intake sorts its
/// reasons by this order so the same submission always yields the same list.
public enum ReasonCode: String, Sendable, Hashable, Codable, CaseIterable {
    // MARK: Intake
    case schemaInvalid = "SCHEMA_INVALID"
    case consentMissing = "CONSENT_MISSING"
    case applicantNotMinor = "APPLICANT_NOT_MINOR"
    case idTypeNotAllowed = "ID_TYPE_NOT_ALLOWED"
    case agentNotAdult = "AGENT_NOT_ADULT"
    case idNumberInvalid = "ID_NUMBER_INVALID"
    case idBirthDateMismatch = "ID_BIRTH_DATE_MISMATCH"
    case idGenderMismatch = "ID_GENDER_MISMATCH"
    case idExpired = "ID_EXPIRED"
    case relationshipGenderMismatch = "RELATIONSHIP_GENDER_MISMATCH"
    case documentMissing = "DOCUMENT_MISSING"
    case photoSizeOutOfRange = "PHOTO_SIZE_OUT_OF_RANGE"
    case photoDimensionsInvalid = "PHOTO_DIMENSIONS_INVALID"
    case photoFormatInvalid = "PHOTO_FORMAT_INVALID"
    case defaultPhotoNotAllowed = "DEFAULT_PHOTO_NOT_ALLOWED"
    case pickupMethodNotSupported = "PICKUP_METHOD_NOT_SUPPORTED"
    case mobileInvalid = "MOBILE_INVALID"
    case landlineInvalid = "LANDLINE_INVALID"
    case districtInvalid = "DISTRICT_INVALID"
    case addressNotPrecise = "ADDRESS_NOT_PRECISE"
    case nationalityNotSupported = "NATIONALITY_NOT_SUPPORTED"
    case ethnicityInvalid = "ETHNICITY_INVALID"
    case occupationInvalid = "OCCUPATION_INVALID"
    case householdAnswersMissing = "HOUSEHOLD_ANSWERS_MISSING"
    case bankUnknown = "BANK_UNKNOWN"
    case duplicateActiveApplication = "DUPLICATE_ACTIVE_APPLICATION"

    // MARK: Identity
    case personNotFound = "PERSON_NOT_FOUND"
    case identityMismatch = "IDENTITY_MISMATCH"
    case personInactive = "PERSON_INACTIVE"
    case relationshipNotConfirmed = "RELATIONSHIP_NOT_CONFIRMED"
    case householdMismatch = "HOUSEHOLD_MISMATCH"

    // MARK: Routing
    case branchUnknown = "BRANCH_UNKNOWN"
    case branchNotOfBank = "BRANCH_NOT_OF_BANK"
    case branchClosed = "BRANCH_CLOSED"
    case branchNoMinorService = "BRANCH_NO_MINOR_SERVICE"

    // MARK: Project additions (the contract allows new codes, never renames)
    /// The bank reported `failed` for the order; carried by the `failed` status.
    case bankProductionFailed = "BANK_PRODUCTION_FAILED"
    /// The `card.submission` value is over ``SubmissionSize/maxBytes``: whatever intake would
    /// pass on could not be sent (docs/contract-additions.md, "Sizes"). Field `null`.
    case submissionTooLarge = "SUBMISSION_TOO_LARGE"

    /// Position in the contract's tables, used to order reasons stably.
    public var ordinal: Int { Self.allCases.firstIndex(of: self)! }
}
