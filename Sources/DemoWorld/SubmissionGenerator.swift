import CardDomain
import Foundation
import JSONCodec

/// Generates realistic `card.submission` values for the demo families (``DemoFamilies``) and
/// branches (``DemoBranches``), valid or broken in known ways. Pure and deterministic: the
/// same options, index and time give the same submission.
///
/// Submission `k` of a run is for the child at position `(start + k) % total` of
/// ``DemoFamilies/childRefs(families:)``, `start` coming from the seed, so a run of up to
/// `total` submissions never names one child twice (a second one would be
/// DUPLICATE_ACTIVE_APPLICATION at intake).
package struct SubmissionGenerator: Sendable {
    package struct Options: Sendable {
        /// Demo families to draw from (the same number `fleet seed` published).
        package var families = 2000
        /// Share of submissions broken in a way intake reports (``IntakeFlaw``).
        package var invalidShare = 0.1
        /// Share that passes intake and is rejected later (``LateFlaw``).
        package var lateShare = 0.03
        package var seed: UInt64 = 1
        /// Makes submission ids unique per run: `web-20261125-<run>-000123`.
        package var runID = "run1"

        package init(families: Int = 2000, invalidShare: Double = 0.1, lateShare: Double = 0.03, seed: UInt64 = 1, runID: String = "run1") {
            self.families = families
            self.invalidShare = invalidShare
            self.lateShare = lateShare
            self.seed = seed
            self.runID = runID
        }
    }

    /// What the pipeline should make of a generated submission.
    package enum Expected: Hashable, Sendable, Comparable, CustomStringConvertible {
        /// Accepted and, with the bank simulator running, produced and picked up.
        case accepted
        case intake(ReasonCode)
        case identity(ReasonCode)
        case routing(ReasonCode)
        /// The run came back to a child it already applied for (more submissions than children).
        case duplicate

        package var description: String {
            switch self {
            case .accepted: "accepted (then produced by the bank)"
            case .intake(let code): "rejected at intake: \(code.rawValue)"
            case .identity(let code): "rejected at identity: \(code.rawValue)"
            case .routing(let code): "rejected at routing: \(code.rawValue)"
            case .duplicate: "rejected at intake: DUPLICATE_ACTIVE_APPLICATION (same child twice in this run)"
            }
        }

        package var passesIntake: Bool {
            switch self {
            case .accepted, .identity, .routing: true
            case .intake, .duplicate: false
            }
        }

        package static func < (lhs: Expected, rhs: Expected) -> Bool { lhs.description < rhs.description }
    }

    /// One generated submission, ready to publish.
    package struct Generated: Sendable {
        package var submissionID: String
        package var channel: Channel
        /// The Kafka key: `applicant.id_number` as written (even when deliberately invalid).
        package var key: String
        package var value: JSONValue
        package var expected: Expected
        package var family: Int
        package var child: Int

        /// The value as compact JSON bytes.
        package var bytes: Data { (try? CardJSON.encode(value)) ?? Data() }
    }

    /// Ways to break a submission that intake must report, each with the code it yields.
    enum IntakeFlaw: String, Sendable, CaseIterable {
        case applicantCheckDigit, agentCheckDigit, agentMobile, applicantMobile
        case photoTooSmall, photoTooLarge, photoDimensions, photoFormat
        case consentMissing, unknownBank, birthDateMismatch, genderMismatch, relationshipGender
        case addressNotPrecise, districtInvalid, landlineInvalid, agentIDExpired, documentMissing
        case defaultPhotoTooOld, householdRegisterTooOld, householdAnswersMissing
        case ethnicityInvalid, occupationInvalid, nationality, missingField, pickupMethod

        var code: ReasonCode {
            switch self {
            case .applicantCheckDigit, .agentCheckDigit: .idNumberInvalid
            case .agentMobile, .applicantMobile: .mobileInvalid
            case .photoTooSmall, .photoTooLarge: .photoSizeOutOfRange
            case .photoDimensions: .photoDimensionsInvalid
            case .photoFormat: .photoFormatInvalid
            case .consentMissing: .consentMissing
            case .unknownBank: .bankUnknown
            case .birthDateMismatch: .idBirthDateMismatch
            case .genderMismatch: .idGenderMismatch
            case .relationshipGender: .relationshipGenderMismatch
            case .addressNotPrecise: .addressNotPrecise
            case .districtInvalid: .districtInvalid
            case .landlineInvalid: .landlineInvalid
            case .agentIDExpired: .idExpired
            case .documentMissing: .documentMissing
            case .defaultPhotoTooOld: .defaultPhotoNotAllowed
            case .householdRegisterTooOld: .idTypeNotAllowed
            case .householdAnswersMissing: .householdAnswersMissing
            case .ethnicityInvalid: .ethnicityInvalid
            case .occupationInvalid: .occupationInvalid
            case .nationality: .nationalityNotSupported
            case .missingField: .schemaInvalid
            case .pickupMethod: .pickupMethodNotSupported
            }
        }

        /// Whether the flaw can be shown on an applicant of this age.
        func applies(toAge age: Int) -> Bool {
            switch self {
            case .defaultPhotoTooOld: age >= AgeLimits.defaultPhotoBelow
            case .householdRegisterTooOld: age >= AgeLimits.householdRegisterBelow
            default: true
            }
        }
    }

    /// Ways to pass intake and be rejected later.
    enum LateFlaw: String, Sendable, CaseIterable {
        case branchClosed, branchNoMinors, wrongApplicantName, personInactive, relationshipNotConfirmed

        var expected: Expected {
            switch self {
            case .branchClosed: .routing(.branchClosed)
            case .branchNoMinors: .routing(.branchNoMinorService)
            case .wrongApplicantName: .identity(.identityMismatch)
            case .personInactive: .identity(.personInactive)
            case .relationshipNotConfirmed: .identity(.relationshipNotConfirmed)
            }
        }
    }

    let options: Options
    let children: [DemoFamilies.ChildRef]
    private let start: Int

    package init(options: Options) {
        precondition(options.families > 0, "at least one family")
        self.options = options
        self.children = DemoFamilies.childRefs(families: options.families)
        self.start = Int(DemoRandom.mix(options.seed) % UInt64(children.count))
    }

    /// Submission number `k` (0-based) of the run, submitted at `at`.
    package func make(_ k: Int, at: Timestamp) -> Generated {
        var rng = DemoRandom(salt: DemoRandom.mix(options.seed ^ 0x5B_5B5B), index: k)
        let ref = children[(start + k) % children.count]
        let family = DemoFamilies.family(ref.family)
        let child = family.children[ref.child]
        let today = at.shanghaiDate
        let age = child.birthDate.age(on: today)

        // Decide the kind first so a late flaw can choose its own agent.
        let roll = Double(rng.next() >> 11) / Double(1 << 53)
        var intakeFlaw: IntakeFlaw?
        var lateFlaw: LateFlaw?
        if roll < options.invalidShare {
            intakeFlaw = rng.pick(IntakeFlaw.allCases.filter { $0.applies(toAge: age) })
        } else if roll < options.invalidShare + options.lateShare {
            var candidates = LateFlaw.allCases
            if family.agents(includeInactive: true).allSatisfy(\.person.isActive) {
                candidates.removeAll { $0 == .personInactive }
            }
            lateFlaw = rng.pick(candidates)
        }

        // The agent: an active parent or guardian, or an inactive one for PERSON_INACTIVE.
        var agent: (person: DemoFamilies.Person, relationship: Relationship)
        switch lateFlaw {
        case .personInactive:
            agent = rng.pick(family.agents(includeInactive: true).filter { !$0.person.isActive })
        case .relationshipNotConfirmed:
            // A parent claiming to be the guardian: the registry lists them as a parent only.
            let parent = rng.pick(family.agents().filter { $0.relationship != .guardian })
            agent = (parent.person, .guardian)
        default:
            let candidates = family.agents()
            agent = rng.weighted(candidates.map { candidate in
                let weight = switch candidate.relationship {
                case .mother: 50
                case .father: 35
                case .guardian: 40
                }
                return (candidate, weight)
            })
        }

        let channel = rng.weighted([(Channel.hrssWeb, 45), (.jingtong, 35), (.minsheng, 20)])
        let submissionID = Self.submissionID(channel: channel, day: today, runID: options.runID, number: k + 1)
        let forceResidentID = intakeFlaw == .householdRegisterTooOld || intakeFlaw == .householdAnswersMissing
        var submission = validSubmission(
            id: submissionID, channel: channel, at: at, family: family, child: child, agent: agent,
            forceClaimCheckPhoto: intakeFlaw == .defaultPhotoTooOld ? false : nil,
            allowHouseholdRegister: !forceResidentID, rng: &rng)

        var expected: Expected = .accepted
        if age >= AgeLimits.adult {
            expected = .intake(.applicantNotMinor)  // demo data used long after 2027-06
        }
        switch lateFlaw {
        case .branchClosed:
            let branch = rng.pick(DemoBranches.closedBranches(district: family.district))
            submission.card.bank = Bank(rawValue: branch.bank)!
            submission.card.branch = branch.branch
        case .branchNoMinors:
            let branch = rng.pick(DemoBranches.noMinorsBranches(district: family.district))
            submission.card.bank = Bank(rawValue: branch.bank)!
            submission.card.branch = branch.branch
        case .wrongApplicantName:
            submission.applicant.name = DemoNames.misspelled(child.name, &rng)
        case .personInactive, .relationshipNotConfirmed, nil:
            break
        }
        if let lateFlaw, expected == .accepted { expected = lateFlaw.expected }
        // Past the last child the run comes back to children it already applied for.
        if k >= children.count, expected == .accepted {
            expected = .duplicate
        }

        var value = (try? JSONValue(parsing: CardJSON.encode(submission))) ?? .null
        if let intakeFlaw {
            apply(intakeFlaw, to: &value, submission: submission, today: today, rng: &rng)
            expected = .intake(intakeFlaw.code)
        }
        return Generated(
            submissionID: submissionID, channel: channel, key: value["applicant"]?["id_number"]?.stringValue ?? "",
            value: value, expected: expected, family: ref.family, child: ref.child)
    }

    /// `web-20261125-<run>-000123`, `jt-…`, `ms-…`.
    static func submissionID(channel: Channel, day: CivilDate, runID: String, number: Int) -> String {
        let prefix = switch channel {
        case .hrssWeb: "web"
        case .jingtong: "jt"
        case .minsheng: "ms"
        }
        let date = DemoFamilies.padded(day.year, 4) + DemoFamilies.padded(day.month, 2) + DemoFamilies.padded(day.day, 2)
        return prefix + "-" + date + "-" + runID + "-" + DemoFamilies.padded(number, 6)
    }

    // MARK: - A valid submission

    /// A submission that passes intake, identity and routing for `child` of `family`.
    func validSubmission(
        id: String, channel: Channel, at: Timestamp, family: DemoFamilies.Family, child: DemoFamilies.Person,
        agent: (person: DemoFamilies.Person, relationship: Relationship), forceClaimCheckPhoto: Bool? = nil,
        allowHouseholdRegister: Bool = true, rng: inout DemoRandom
    ) -> Submission {
        let today = at.shanghaiDate
        let age = child.birthDate.age(on: today)
        let folder = "s3://card-docs/" + DemoFamilies.padded(today.year, 4) + "/" + DemoFamilies.padded(today.month, 2)
            + "/" + DemoFamilies.padded(today.day, 2) + "/" + id + "/"

        func scan(_ slot: String, width: Int = 1280, height: Int = 808) -> ClaimCheck {
            ClaimCheck(uri: folder + slot + ".jpg", sha256: rng.hex(64), bytes: Int.random(in: 150_000...3_500_000, using: &rng),
                       mediaType: "image/jpeg", width: width, height: height)
        }

        let agentValidity = Self.validity(birth: agent.person.birthDate, today: today, rng: &rng)
        let useHouseholdRegister = allowHouseholdRegister && age < AgeLimits.householdRegisterBelow && rng.chance(0.3)
        let applicantValidity: (from: CivilDate, to: Submission.Validity) = useHouseholdRegister
            ? (child.birthDate.adding(days: Int.random(in: 10...60, using: &rng)), .longTerm)
            : Self.validity(birth: child.birthDate, today: today, rng: &rng)

        var household: Submission.Household?
        if useHouseholdRegister {
            let record = agent.person.record
            household = Submission.Household(
                agentIsHouseholder: record.isHouseholder,
                sameBooklet: record.householdID != nil && record.householdID == child.record.householdID)
        }

        let useDefaultPhoto = forceClaimCheckPhoto.map { !$0 } ?? (age < AgeLimits.defaultPhotoBelow && rng.chance(0.3))
        let photo: Attachment = useDefaultPhoto ? .defaultPhoto : .claimCheck(ClaimCheck(
            uri: folder + "photo.jpg", sha256: rng.hex(64), bytes: Int.random(in: 24_000...600_000, using: &rng),
            mediaType: "image/jpeg", width: DocumentRules.photoWidth, height: DocumentRules.photoHeight))
        var documents = Submission.Documents(photo: photo)
        let required = DocumentRules.requiredSlots(
            idType: useHouseholdRegister ? .householdRegister : .residentID,
            agentIsHouseholder: household?.agentIsHouseholder, sameBooklet: household?.sameBooklet)
        for slot in required {
            switch slot {
            case .photo: break
            case .idFront: documents.idFront = scan("id_front")
            case .idBack: documents.idBack = scan("id_back")
            case .birthCertificate: documents.birthCertificate = scan("birth_certificate", width: 2480, height: 3508)
            case .householderPage: documents.householderPage = scan("householder_page", width: 1654, height: 2339)
            case .applicantPage: documents.applicantPage = scan("applicant_page", width: 1654, height: 2339)
            case .householderOwnPage: documents.householderOwnPage = scan("householder_own_page", width: 1654, height: 2339)
            case .applicantChangePage: documents.applicantChangePage = scan("applicant_change_page", width: 1654, height: 2339)
            case .householderChangePage: documents.householderChangePage = scan("householder_change_page", width: 1654, height: 2339)
            }
        }
        if useHouseholdRegister && rng.chance(0.15) {
            documents.applicantChangePage = scan("applicant_change_page", width: 1654, height: 2339)
        }

        let bank = rng.weighted(Bank.allCases.map { ($0, $0 == .bob || $0 == .icbc || $0 == .ccb ? 3 : 1) })
        let branch = rng.pick(DemoBranches.openMinorsBranches(bank: bank, district: family.district))
        let functions = rng.weighted([
            (["social_security", "medical_settlement"], 70),
            (["social_security", "medical_settlement", "financial_payment"], 20),
            (["social_security"], 10),
        ])

        return Submission(
            submissionID: id, channel: channel, submittedAt: at,
            consents: Submission.Consents(disclaimer: true, commitment: true, dataAuthorization: true),
            agent: Submission.Agent(
                name: agent.person.name, idNumber: agent.person.idNumber, idValidFrom: agentValidity.from,
                idValidTo: agentValidity.to, gender: agent.person.gender, mobile: agent.person.mobile,
                relationship: agent.relationship,
                documents: Submission.AgentDocuments(idFront: scan("agent_id_front"), idBack: scan("agent_id_back"))),
            applicant: Submission.Applicant(
                name: child.name, idType: useHouseholdRegister ? .householdRegister : .residentID,
                idNumber: child.idNumber, idValidFrom: applicantValidity.from, idValidTo: applicantValidity.to,
                gender: child.gender, birthDate: child.birthDate, ethnicity: family.ethnicity,
                occupation: age < 6 ? "preschool" : "student", district: family.district, address: family.address,
                mobile: agent.person.mobile, landline: family.landline),
            household: household, documents: documents,
            card: Submission.CardRequest(bank: bank, branch: branch.branch, functions: functions))
    }

    /// A resident ID validity period covering `today`, by the national rules: 5 years when
    /// issued under 16, 10 years at 16–25, 20 years at 26–45, long-term from 46.
    static func validity(birth: CivilDate, today: CivilDate, rng: inout DemoRandom) -> (from: CivilDate, to: Submission.Validity) {
        let lived = today.daysSinceEpoch - birth.daysSinceEpoch
        var back = Int.random(in: 30...max(31, min(3_000, lived - 1)), using: &rng)
        while true {
            let issued = today.adding(days: -back)
            let ageAtIssue = birth.age(on: issued)
            let years: Int? = ageAtIssue < 16 ? 5 : ageAtIssue < 26 ? 10 : ageAtIssue < 46 ? 20 : nil
            guard let years else { return (issued, .longTerm) }
            let end = issued.addingYears(years)
            if end > today.adding(days: 30) || back <= 1 { return (issued, .until(end)) }
            back /= 2
        }
    }

    // MARK: - Breaking it

    private func apply(_ flaw: IntakeFlaw, to value: inout JSONValue, submission: Submission, today: CivilDate,
                       rng: inout DemoRandom) {
        func badPhoto(bytes: Int = 48_213, mediaType: String = "image/jpeg", width: Int = 358, height: Int = 441) -> JSONValue {
            [
                "uri": .string("s3://card-docs/bad/" + submission.submissionID + "/photo.jpg"),
                "sha256": .string(rng.hex(64)), "bytes": .integer(Int64(bytes)), "media_type": .string(mediaType),
                "width": .integer(Int64(width)), "height": .integer(Int64(height)),
            ]
        }
        switch flaw {
        case .applicantCheckDigit:
            value.set(["applicant", "id_number"], .string(Self.wrongCheckCharacter(submission.applicant.idNumber)))
        case .agentCheckDigit:
            value.set(["agent", "id_number"], .string(Self.wrongCheckCharacter(submission.agent.idNumber)))
        case .agentMobile:
            value.set(["agent", "mobile"], .string("12" + rng.digits(9)))
        case .applicantMobile:
            value.set(["applicant", "mobile"], .string("1" + rng.digits(7)))
        case .photoTooSmall:
            value.set(["documents", "photo"], badPhoto(bytes: Int.random(in: 3_000...20_479, using: &rng)))
        case .photoTooLarge:
            value.set(["documents", "photo"], badPhoto(bytes: Int.random(in: 9_175_041...12_000_000, using: &rng)))
        case .photoDimensions:
            value.set(["documents", "photo"], badPhoto(width: 480, height: 640))
        case .photoFormat:
            value.set(["documents", "photo"], badPhoto(mediaType: rng.pick(["image/gif", "image/heic", "application/pdf"])))
        case .consentMissing:
            value.set(["consents", rng.pick(["disclaimer", "commitment", "data_authorization"])], false)
        case .unknownBank:
            value.set(["card", "bank"], .string(rng.pick(["BOJ", "HSBC", "XYZB"])))
        case .birthDateMismatch:
            value.set(["applicant", "birth_date"], .string(submission.applicant.birthDate.adding(days: rng.pick([-1, 1, 31])).description))
        case .genderMismatch:
            value.set(["applicant", "gender"], .string(submission.applicant.gender == .male ? "female" : "male"))
        case .relationshipGender:
            value.set(["agent", "relationship"], .string(submission.agent.gender == .male ? "mother" : "father"))
        case .addressNotPrecise:
            let districtName = Catalogues.beijingDistricts[submission.applicant.district] ?? ""
            value.set(["applicant", "address"], .string("北京市" + districtName + rng.pick(DemoNames.streets) + "附近"))
        case .districtInvalid:
            value.set(["applicant", "district"], .string(rng.pick(["110100", "120101", "110103"])))
        case .landlineInvalid:
            value.set(["applicant", "landline"], .string(rng.pick(["12345", "010-123", "01012345678"])))
        case .agentIDExpired:
            value.set(["agent", "id_valid_from"], .string(today.adding(days: -30).addingYears(-20).description))
            value.set(["agent", "id_valid_to"], .string(today.adding(days: -30).description))
        case .documentMissing:
            value.set(["agent", "documents", rng.pick(["id_front", "id_back"])], nil)
        case .defaultPhotoTooOld:
            value.set(["documents", "photo"], ["default_photo": true])
        case .householdRegisterTooOld:
            // A 16- or 17-year-old on the household register, otherwise complete.
            value.set(["applicant", "id_type"], "household_register")
            value.set(["applicant", "id_valid_to"], "long_term")
            value.set(["household"], ["agent_is_householder": false, "same_booklet": false])
            value.set(["documents", "householder_page"], value["documents"]?["id_front"])
            value.set(["documents", "applicant_page"], value["documents"]?["id_back"])
        case .householdAnswersMissing:
            value.set(["applicant", "id_type"], "household_register")
            value.set(["household"], ["same_booklet": true])
        case .ethnicityInvalid:
            value.set(["applicant", "ethnicity"], .string(rng.pick(["57", "1", "汉族"])))
        case .occupationInvalid:
            value.set(["applicant", "occupation"], .string(rng.pick(["astronaut", "9", "kindergarten"])))
        case .nationality:
            value.set(["applicant", "nationality"], .string(rng.pick(["USA", "HKG", "中国"])))
        case .missingField:
            value.set(rng.pick([["applicant", "mobile"], ["applicant", "address"], ["agent", "name"], ["card", "functions"]]), nil)
        case .pickupMethod:
            value.set(["card", "pickup"], .string(rng.pick(["home_delivery", "school_pickup"])))
        }
    }

    /// The number with its check character replaced by a wrong one.
    static func wrongCheckCharacter(_ number: String) -> String {
        let first17 = String(number.prefix(17))
        let right = IDNumber.checkCharacter(forFirst17: first17) ?? "0"
        let wrong: Character = right == "0" ? "1" : right == "X" ? "3" : "0"
        return first17 + String(wrong)
    }
}

extension JSONValue {
    /// Sets (or with `nil` removes) the member at `path`, creating objects on the way.
    mutating func set(_ path: [String], _ newValue: JSONValue?) {
        guard let key = path.first else {
            if let newValue { self = newValue }
            return
        }
        var members = objectValue ?? [:]
        if path.count == 1 {
            members[key] = newValue
        } else {
            var child = members[key] ?? .object([:])
            child.set(Array(path.dropFirst()), newValue)
            members[key] = child
        }
        self = .object(members)
    }
}
