/// Which documents an application needs, and what a photo must look like.
public enum DocumentRules {
    /// Document slots under `documents` (the applicant's side).
    public enum Slot: String, Sendable, Hashable, CaseIterable {
        case photo
        case idFront = "id_front"
        case idBack = "id_back"
        case birthCertificate = "birth_certificate"
        case householderPage = "householder_page"
        case applicantPage = "applicant_page"
        case householderOwnPage = "householder_own_page"
        case applicantChangePage = "applicant_change_page"
        case householderChangePage = "householder_change_page"

        public var path: String { "documents." + rawValue }
    }

    /// Document slots under `agent.documents`; both are always required.
    public enum AgentSlot: String, Sendable, Hashable, CaseIterable {
        case idFront = "id_front"
        case idBack = "id_back"

        public var path: String { "agent.documents." + rawValue }
    }

    /// The applicant's required slots, in the order they are reported.
    ///
    /// - Parameters:
    ///   - idType: the applicant's document.
    ///   - agentIsHouseholder: the household answer, `nil` if not given.
    ///   - sameBooklet: the household answer, `nil` if not given.
    /// - Returns: always the photo; with `resident_id` both sides of the ID and the birth
    ///   certificate; with `household_register` the householder's and the applicant's pages,
    ///   the householder's own page when the agent is the householder, and the birth
    ///   certificate unless the agent is the householder on the same booklet. A condition
    ///   that depends on a missing answer is left out (HOUSEHOLD_ANSWERS_MISSING says so),
    ///   except that one `false` answer already settles the birth certificate.
    public static func requiredSlots(idType: IDType, agentIsHouseholder: Bool?, sameBooklet: Bool?) -> [Slot] {
        switch idType {
        case .residentID:
            return [.photo, .idFront, .idBack, .birthCertificate]
        case .householdRegister:
            var slots: [Slot] = [.photo, .householderPage, .applicantPage]
            if agentIsHouseholder == true { slots.append(.householderOwnPage) }
            if agentIsHouseholder == false || sameBooklet == false { slots.append(.birthCertificate) }
            return slots
        }
    }

    // MARK: - Photo

    /// 20 KiB … 8.75 MiB, both ends allowed.
    public static let photoBytes: ClosedRange<Int> = 20_480...9_175_040
    public static let photoWidth = 358
    public static let photoHeight = 441
    /// Compared case-insensitively: media types are.
    public static let photoMediaTypes: Set<String> = ["image/jpeg", "image/png"]

    public static func isPhotoSizeAllowed(_ bytes: Int) -> Bool { photoBytes.contains(bytes) }
    public static func isPhotoDimensionAllowed(width: Int, height: Int) -> Bool {
        width == photoWidth && height == photoHeight
    }
    public static func isPhotoMediaTypeAllowed(_ mediaType: String) -> Bool {
        photoMediaTypes.contains(mediaType.lowercased())
    }
}

/// The age limits of the intake rules, in completed years at `submitted_at` (Beijing time).
public enum AgeLimits {
    /// The applicant must be under 18 (未满18周岁).
    public static let adult = 18
    /// From 16 the applicant must use a resident ID, not the household register.
    public static let householdRegisterBelow = 16
    /// The default photo is allowed under 7 only.
    public static let defaultPhotoBelow = 7
}
