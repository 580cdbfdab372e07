import CardDomain
import CardWorkers
import Foundation

/// Real people's data at the edges (issue 11, items 6–10): inputs that are legal, or
/// readable without doubt, each with exactly one right answer, so `fleet hostile` checks the
/// answer rather than "no crash".
///
/// Per round: a submission on the eve of an 18th birthday with a 7-digit fraction (received);
/// a family registered with U+00B7 names and a submission with a look-alike dot (both
/// registry records applied, identity verified); a submission with `null` in every optional
/// field (received); an applicant and an agent whose numbers name people not born yet
/// (rejected at intake); a family whose registry records end in lower-case `x` (both kept
/// with a "reference record normalised" log line, identity verified).
struct HostileDomainRecords {
    let runID: String
    private(set) var personalData: Set<String> = []
    private var serial = 0

    init(runID: String) { self.runID = runID }

    /// Records per ``round(_:today:)``.
    static let perRound = 10

    /// Look-alikes of U+00B7 that portals send (see ``PersonName/separatorDots``).
    static let lookAlikeDots: [Character] = ["\u{FF65}", "\u{2E31}", "\u{2022}", "\u{30FB}", "\u{2027}", "\u{0387}", "\u{2219}", "\u{22C5}", "\u{16EB}"]

    /// One round of records, in publishing order (registry records before the submissions that need them).
    mutating func round(_ index: Int, today: CivilDate) -> [HostileGenerator.Record] {
        var out: [HostileGenerator.Record] = []
        func submission(_ kind: String, _ json: String, applicant: String, id: String, _ expectation: HostileGenerator.Expectation) {
            out.append(HostileGenerator.Record(topic: CardTopics.submission, partition: 0, key: Array(applicant.utf8), value: Array(json.utf8),
                                               kind: kind, expectation: expectation, submissionID: id))
        }
        func registry(_ kind: String, _ key: String, _ json: String, _ expectation: HostileGenerator.Expectation) {
            out.append(HostileGenerator.Record(topic: CardTopics.registryPersons, partition: 0, key: Array(key.utf8), value: Array(json.utf8),
                                               kind: kind, expectation: expectation))
        }

        // 7-digit fraction on the eve of the 18th birthday, on the applicant ID's last valid day.
        let eveDay = today.adding(days: -1)
        let eighteen = CivilDate(year: today.year - 18, month: today.month, day: today.day) ?? today.adding(days: -6575)
        var eve = family(childBorn: eighteen, checkX: false)
        eve.validTo = eveDay.description
        var id = nextID("eve")
        submission("7-digit fraction on the eve of an 18th birthday", eve.submission(id: id, submittedAt: "\(eveDay)T23:59:59.9999999+08:00"),
                   applicant: eve.child, id: id, .received)

        // Middle-dot look-alike: the registry holds U+00B7.
        let dot = Self.lookAlikeDots[index % Self.lookAlikeDots.count]
        var dots = family(childBorn: today.adding(days: -3000 - index), checkX: false)
        dots.motherName = "阿依古丽\u{00B7}吐尔逊"
        dots.childName = "艾力\u{00B7}买买提江"
        registry("registry record with a U+00B7 name", dots.mother, dots.registryJSON(child: false), .applied)
        registry("registry record with a U+00B7 name", dots.child, dots.registryJSON(child: true), .applied)
        id = nextID("dot")
        let code = String(dot.unicodeScalars.first!.value, radix: 16, uppercase: true)
        submission("middle-dot look-alike U+\(code) in both names",
                   dots.submission(id: id, motherName: "阿依古丽\(dot)吐尔逊", childName: "艾力\(dot)买买提江"),
                   applicant: dots.child, id: id, .identityVerified)

        // null in every optional field.
        let nulls = family(childBorn: today.adding(days: -2500 - index), checkX: false)
        id = nextID("null")
        submission("null in every optional field", nulls.submission(id: id, nullOptionals: true), applicant: nulls.child, id: id, .received)

        // Numbers of people not born yet: the applicant's, then the agent's.
        let unborn = family(childBorn: today.adding(days: 1 + index % 30), checkX: false)
        id = nextID("unborn")
        submission("applicant born after submitted_at", unborn.submission(id: id), applicant: unborn.child, id: id, .rejectedAtIntake)
        var unbornAgent = family(childBorn: today.adding(days: -2000), checkX: false, motherBorn: today.adding(days: 2))
        unbornAgent.childName = "代办二十五"
        id = nextID("unborn-agent")
        submission("agent born after submitted_at", unbornAgent.submission(id: id), applicant: unbornAgent.child, id: id, .rejectedAtIntake)

        // Lower-case x in the registry feed; the portal writes X.
        let lower = family(childBorn: today.adding(days: -3500 - index), checkX: true)
        for child in [false, true] {
            let json = lower.registryJSON(child: child).replacingOccurrences(of: "X\"", with: "x\"")
            registry("registry record with lower-case x ids", (child ? lower.child : lower.mother).lowercased(), json, .normalisedWithLog)
        }
        id = nextID("lower-x")
        submission("family registered with lower-case x", lower.submission(id: id), applicant: lower.child, id: id, .identityVerified)
        assert(out.count == Self.perRound)
        return out
    }

    private mutating func nextID(_ what: String) -> String {
        serial += 1
        return "hd-\(runID)-\(what)-\(serial)"
    }

    // MARK: - A family

    struct Family {
        var mother: String
        var child: String
        var motherBorn: CivilDate
        var childBorn: CivilDate
        var motherName = "张三"
        var childName = "代办二十五"
        var validTo = "long_term"

        func registryJSON(child isChild: Bool) -> String {
            let id = isChild ? child : mother
            let born = isChild ? childBorn : motherBorn
            let name = isChild ? childName : motherName
            let gender = isChild ? "male" : "female"
            let motherID = isChild ? "\"\(mother)\"" : "null"
            return #"{"id_number":"\#(id)","name":"\#(name)","gender":"\#(gender)","birth_date":"\#(born)","status":"active","father_id":null,"mother_id":\#(motherID),"guardian_ids":[],"household_id":null,"is_householder":false}"#
        }

        func submission(id: String, submittedAt: String = Timestamp.now().description, motherName: String? = nil,
                        childName: String? = nil, nullOptionals: Bool = false) -> String {
            func attachment(_ name: String, bytes: Int = 123_456) -> String {
                #"{"uri":"s3://card-docs/\#(id)/\#(name)","sha256":"\#(String(repeating: "cd", count: 32))","bytes":\#(bytes),"media_type":"image/jpeg","width":358,"height":441}"#
            }
            let landline = nullOptionals ? "null" : "\"010-12345678\""
            let optional = nullOptionals ? #","household":null"# : ""
            let optionalDocuments = nullOptionals ? #","applicant_change_page":null,"householder_change_page":null,"householder_page":null"# : ""
            return """
            {"schema":"card.submission.v1","submission_id":"\(id)","channel":"minsheng","submitted_at":"\(submittedAt)",\
            "consents":{"disclaimer":true,"commitment":true,"data_authorization":true},\
            "agent":{"name":"\(motherName ?? self.motherName)","id_type":"resident_id","id_number":"\(mother)","id_valid_from":"2015-06-01",\
            "id_valid_to":"long_term","gender":"female","mobile":"13412342458","relationship":"mother",\
            "documents":{"id_front":\(attachment("a1.jpg")),"id_back":\(attachment("a2.jpg"))}},\
            "applicant":{"name":"\(childName ?? self.childName)","id_type":"resident_id","id_number":"\(child)","id_valid_from":"2015-01-01",\
            "id_valid_to":"\(validTo)","gender":"male","birth_date":"\(childBorn)","nationality":"CHN","ethnicity":"05",\
            "occupation":"student","district":"110105","address":"北京市朝阳区永安里20号","mobile":"13412342458","landline":\(landline)}\(optional),\
            "documents":{"photo":\(attachment("photo.jpg", bytes: 48_213)),"id_front":\(attachment("f.jpg")),"id_back":\(attachment("b.jpg")),\
            "birth_certificate":\(attachment("c.jpg"))\(optionalDocuments)},\
            "card":{"bank":"BOB","branch":"BOB-0105-01","pickup":"agent_branch_pickup","functions":["social_security"]}}
            """
        }
    }

    /// A mother and her son with fresh numbers (`checkX`: both with check character X).
    private mutating func family(childBorn: CivilDate, checkX: Bool, motherBorn: CivilDate = CivilDate(year: 1985, month: 3, day: 7)!) -> Family {
        func number(_ birth: CivilDate, _ gender: Gender) -> String {
            while true {
                serial += 1
                let id = IDNumber.make(region: "110108", birthDate: birth, gender: gender, serial: serial)!.rawValue
                if !checkX || id.hasSuffix("X") {
                    personalData.insert(id)
                    personalData.insert(id.lowercased())
                    return id
                }
            }
        }
        return Family(mother: number(motherBorn, .female), child: number(childBorn, .male), motherBorn: motherBorn, childBorn: childBorn)
    }
}
