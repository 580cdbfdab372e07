import CardDomain
import Foundation
import JSONCodec
import Testing

/// Real people's data at the edges (issue 11, items 6–10), through the four worker processes:
/// the project's own versions of cases ow-06a, ow-09a, ow-10, ow-12a and ow-13.
@Suite("End to end: real people's data at the edges", .serialized, .timeLimit(.minutes(3)))
struct OutsideWorldDataTests {
    /// A mother and her child as the registry holds them, and a submission for the pair.
    struct People {
        var mother: RegistryPerson
        var child: RegistryPerson

        /// `serial` keeps numbers apart; `checkX` picks numbers whose check character is X.
        init(serial: Int, childBorn: CivilDate, motherName: String = "张三", childName: String = "代办二十五",
             childGender: Gender = .male, checkX: Bool = false) {
            func number(_ birth: CivilDate, _ gender: Gender) -> String {
                var s = serial * 40
                while true {
                    let id = IDNumber.make(region: "110105", birthDate: birth, gender: gender, serial: s)!.rawValue
                    if !checkX || id.hasSuffix("X") { return id }
                    s += 1
                }
            }
            let motherBorn = CivilDate("1985-03-07")!
            let motherID = number(motherBorn, .female)
            mother = RegistryPerson(idNumber: motherID, name: motherName, gender: .female, birthDate: motherBorn,
                                    householdID: "OW\(serial)", isHouseholder: true)
            child = RegistryPerson(idNumber: number(childBorn, childGender), name: childName, gender: childGender,
                                   birthDate: childBorn, motherID: motherID, householdID: "OW\(serial)")
        }

        func submission(id: String, submittedAt: String = Timestamp(Date()).description, motherName: String? = nil,
                        childName: String? = nil, childValidTo: String = "2028-01-10", landline: String = "\"010-12345678\"") -> String {
            func attachment(_ name: String, bytes: Int = 123456) -> String {
                #"{"uri": "s3://card-docs/\#(id)/\#(name)", "sha256": "\#(String(repeating: "ab", count: 32))", "bytes": \#(bytes), "media_type": "image/jpeg", "width": 358, "height": 441}"#
            }
            return """
            {"schema": "card.submission.v1", "submission_id": "\(id)", "channel": "jingtong", "submitted_at": "\(submittedAt)",
             "consents": {"disclaimer": true, "commitment": true, "data_authorization": true},
             "agent": {"name": "\(motherName ?? mother.name)", "id_type": "resident_id", "id_number": "\(mother.idNumber)",
                       "id_valid_from": "2015-06-01", "id_valid_to": "2035-06-01", "gender": "female", "mobile": "13412342458",
                       "relationship": "mother", "documents": {"id_front": \(attachment("a1.jpg")), "id_back": \(attachment("a2.jpg"))}},
             "applicant": {"name": "\(childName ?? child.name)", "id_type": "resident_id", "id_number": "\(child.idNumber)",
                           "id_valid_from": "2023-01-10", "id_valid_to": "\(childValidTo)", "gender": "\(child.gender.rawValue)",
                           "birth_date": "\(child.birthDate)", "nationality": "CHN", "ethnicity": "05", "occupation": "student",
                           "district": "110105", "address": "北京市朝阳区永安里20号", "mobile": "13412342458", "landline": \(landline)},
             "household": null,
             "documents": {"photo": \(attachment("photo.jpg", bytes: 48213)), "id_front": \(attachment("f.jpg")),
                           "id_back": \(attachment("b.jpg")), "birth_certificate": \(attachment("c.jpg")), "applicant_change_page": null},
             "card": {"bank": "BOB", "branch": "BOB-0105-01", "pickup": "agent_branch_pickup", "functions": ["social_security"]}}
            """
        }
    }

    @Test("ow-06a, ow-09a, ow-10, ow-12a, ow-13 through real worker processes")
    func outsideWorld() async throws {
        let fleet = try PipelineHarness(registryGraceSeconds: 20)
        for branch in DemoBranches.all {
            try await fleet.publish("bank.branches", key: branch.key, json: branch)
        }
        let today = Timestamp.now().shanghaiDate

        // ow-06a: seven fraction digits on the eve of her 18th birthday, her ID's last valid day.
        let eve = People(serial: 1, childBorn: CivilDate("2008-11-25")!, childGender: .female)
        // ow-09a: the registry writes U+00B7; the portal sends U+FF65 and U+2022.
        let dots = People(serial: 2, childBorn: CivilDate("2014-07-09")!, motherName: "阿依古丽\u{00B7}吐尔逊", childName: "艾力\u{00B7}买买提江")
        // ow-10: the registry feed writes the check character as lower-case x.
        let lowerX = People(serial: 3, childBorn: CivilDate("2015-12-24")!, checkX: true)
        // ow-12a: a Java portal writes the absent landline as null.
        let nullLandline = People(serial: 4, childBorn: CivilDate("2016-03-27")!)
        // ow-13: a number (and birth date) of someone born after submitted_at.
        let unborn = People(serial: 5, childBorn: today.adding(days: 1))

        for people in [eve, dots, nullLandline] {
            for person in [people.mother, people.child] { try await fleet.publish("registry.persons", key: person.idNumber, json: person) }
        }
        for person in [lowerX.mother, lowerX.child] {
            let json = String(decoding: try CardJSON.encode(person), as: UTF8.self)
            // Every id of both records ends in X: write each with a lower-case x.
            try await fleet.publish("registry.persons", key: person.idNumber.lowercased(),
                                    value: Array(json.replacingOccurrences(of: "X\"", with: "x\"").utf8))
        }
        // A registry record that cannot be read unambiguously: a wrong check character.
        var broken = People(serial: 6, childBorn: CivilDate("2016-01-01")!).child
        broken.idNumber = String(broken.idNumber.dropLast()) + (broken.idNumber.hasSuffix("1") ? "2" : "1")
        try await fleet.publish("registry.persons", key: broken.idNumber, json: broken)

        try await fleet.submit(eve.submission(id: "ow-06a", submittedAt: "2026-11-24T23:59:59.9999999+08:00", childValidTo: "2026-11-24"),
                               applicantID: eve.child.idNumber)
        try await fleet.submit(dots.submission(id: "ow-09a", motherName: "阿依古丽\u{2022}吐尔逊", childName: "艾力\u{FF65}买买提江"),
                               applicantID: dots.child.idNumber)
        try await fleet.submit(lowerX.submission(id: "ow-10"), applicantID: lowerX.child.idNumber)
        try await fleet.submit(nullLandline.submission(id: "ow-12a", landline: "null"), applicantID: nullLandline.child.idNumber)
        try await fleet.submit(unborn.submission(id: "ow-13"), applicantID: unborn.child.idNumber)

        // ow-06a: received and verified (not APPLICANT_NOT_MINOR, not ID_EXPIRED).
        let eveStatuses = await fleet.waitForStatus("ow-06a", .identityVerified, timeout: .seconds(40))
        #expect(eveStatuses.prefix(2).map(\.status) == [.received, .identityVerified], "\(eveStatuses.map(\.reasons))")

        // ow-09a: verified, and the order prints the registry's U+00B7 for both names.
        let dotStatuses = await fleet.waitForStatus("ow-09a", .inProduction, timeout: .seconds(40))
        #expect(dotStatuses.map(\.status) == [.received, .identityVerified, .routed, .inProduction], "\(dotStatuses.map(\.reasons))")
        let order = try #require(fleet.orders("ow-09a").first?.order)
        #expect(order.cardholder.name == "艾力\u{00B7}买买提江")
        #expect(order.agent.name == "阿依古丽\u{00B7}吐尔逊")

        // ow-10: verified, the normalisation reported; the unreadable record dead-lettered, loudly and masked.
        let xStatuses = await fleet.waitForStatus("ow-10", .identityVerified, timeout: .seconds(40))
        #expect(xStatuses.prefix(2).map(\.status) == [.received, .identityVerified], "\(xStatuses.map(\.reasons))")
        let deadLettered = await fleet.waitUntil(timeout: .seconds(20)) { fleet.deadLetters().contains { $0.sourceTopic == "registry.persons" } }
        #expect(deadLettered)
        let letter = try #require(fleet.deadLetters().first { $0.sourceTopic == "registry.persons" })
        #expect(letter.error.contains("reference record rejected") && letter.error.contains("not a GB 11643 citizen number"), "\(letter.error)")
        #expect(!letter.error.contains(broken.idNumber), "the cause is masked")
        #expect(letter.worker == "identity")
        let identityLog = fleet.logs()["identity"] ?? ""
        #expect(identityLog.contains("reference record normalised"))
        #expect(identityLog.contains("reference record rejected"))
        #expect(!identityLog.contains(lowerX.child.idNumber.lowercased()) && !identityLog.contains(broken.idNumber), "ids masked in the log")

        // ow-12a: null landline is no landline.
        let nullStatuses = await fleet.waitForStatus("ow-12a", .identityVerified, timeout: .seconds(40))
        #expect(nullStatuses.first?.status == .received, "\(nullStatuses.map(\.reasons))")

        // ow-13: rejected at intake, at once, for that number.
        let unbornStatuses = await fleet.waitForStatus("ow-13", .rejected, timeout: .seconds(20))
        #expect(unbornStatuses.map(\.status) == [.rejected])
        #expect(unbornStatuses.first?.reasons.map(\.code) == [.idNumberInvalid])
        #expect(unbornStatuses.first?.reasons.map(\.field) == ["applicant.id_number"])
        _ = await fleet.stop()
    }
}
