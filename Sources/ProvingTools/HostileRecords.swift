import CardDomain
import CardWorkers
import DemoWorld
import FleetSupport
import Foundation
import JSONCodec
import Kafka

/// Generated hostile records for every topic the fleet reads, each with what the fleet must make of it.
///
/// Deterministic for a seed. Kinds: not JSON (text, binary, invalid UTF-8, empty, tombstones, 300-deep
/// nesting), truncated JSON, huge values (up to ~950 KB, under the 1 MB message limit), wrong types,
/// unicode edge cases (escaped NUL, lone surrogate escapes, RTL overrides, emoji, combining marks, BOM,
/// noncharacters), injection strings (SQL, shell, log-forging newlines, format strings, templates, paths),
/// impossible dates, negative and overflowing sizes, ID numbers with bad check characters, 17 and 19
/// digits, full-width digits, and keys that are missing or binary; plus real people's data at the edges
/// (``HostileDomainRecords``), which has exactly one right answer each. Sizes (cases ow-04a, ow-04c): the
/// first two card.submission records of every run are an amplifier (20,000 non-strings in
/// `card.functions`, one reason each unbounded) and a 1,040,000-byte submission, legal for a Java
/// producer (published with `message.max.bytes` raised to 1 MiB, see ``HostileGenerator/feederProperties``).
struct HostileGenerator {
    enum Expectation: String, Codable, Sendable {
        /// card.submission with a usable submission_id: a `rejected` status with reasons.
        case rejectedStatus
        /// A dead letter at the record's offset, with its cause.
        case deadLetter
        /// A dead letter, or nothing when the record happens to be well-formed (a documented no-op).
        case deadLetterOrNoOp
        /// card.submission: exactly one `rejected` status carrying this code (`SCHEMA_INVALID` for the
        /// amplifier, `SUBMISSION_TOO_LARGE` for the near-1-MiB record), and no dead letter.
        case rejectedSchemaInvalid
        case rejectedTooLarge
        /// A reference record that may be readable after all (applied) or not (rejected: see `rejectedReference`).
        case rejectedOrApplied
        /// A reference record (registry.persons, bank.branches) that cannot be read: a "reference record
        /// rejected" log line and a dead letter with its cause; the table keeps what it had.
        case rejectedReference
        // Real people's data at the edges (HostileDomainRecords): one right answer each.
        /// A submission intake must accept: a `received` status, no dead letter.
        case received
        /// A submission whose people are in the registry (look-alike dots, lower-case x): `identity_verified`.
        case identityVerified
        /// A submission intake must refuse at once: one `rejected` status (seq 1, with reasons), no `received`.
        case rejectedAtIntake
        /// A well-formed reference record: stored, no dead letter.
        case applied
        /// A reference record kept after normalisation: a "reference record normalised" log line, no dead letter.
        case normalisedWithLog
        /// Well-formed but meaningless (a reference tombstone, an application-closed for an unknown
        /// application): a documented no-op, no output.
        case noOp
    }

    struct Record: Sendable {
        var topic: String
        var partition: Int32
        var key: [UInt8]?
        var value: [UInt8]?
        var kind: String
        var expectation: Expectation
        var submissionID: String?
    }

    /// Personal data planted in the records: none of it may appear in a worker log or a dead letter's error.
    private(set) var personalData: Set<String> = []
    private var rng: SplitMix64
    private let runID: String
    private var serial = 0
    private var hugeLeft = 10

    init(seed: UInt64, runID: String) {
        rng = SplitMix64(seed: seed)
        self.runID = runID
    }

    static let inputTopics: [String] = [
        CardTopics.submission, CardTopics.bankEvents, CardTopics.identityVerification, CardTopics.bankRouting,
        CardTopics.cardProduction, CardTopics.applicationClosed, CardTopics.registryPersons, CardTopics.bankBranches,
    ]

    // MARK: - Building blocks

    private mutating func pick<T>(_ items: [T]) -> T { items[Int(rng.next() % UInt64(items.count))] }
    private mutating func chance(_ p: Double) -> Bool { Double(rng.next() % 10_000) / 10_000 < p }
    private mutating func digits(_ n: Int) -> String { String((0..<n).map { _ in Character(String(rng.next() % 10)) }) }

    /// A valid ID number (recorded as personal data).
    private mutating func validID() -> String {
        let region = pick(DemoFamilies.districts)
        let birth = CivilDate(daysSinceEpoch: 11_000 + Int(rng.next() % 9_000))
        let id = IDNumber.make(region: region, birthDate: birth, sequence: Int(rng.next() % 1000))!.rawValue
        personalData.insert(id)
        return id
    }

    private mutating func badID() -> String {
        var id = validID()
        switch rng.next() % 5 {
        case 0:  // wrong check character
            let check = id.removeLast()
            let alphabet = Array("0123456789X")
            id.append(alphabet[(alphabet.firstIndex(of: check)! + 1 + Int(rng.next() % 9)) % 11])
        case 1: id.removeLast()  // 17 digits
        case 2: id += String(rng.next() % 10)  // 19 digits
        case 3: id = String(id.dropLast()) + "x"  // lower-case x
        default: id = String(id.map { c in c.asciiValue.map { Character(UnicodeScalar(0xFF10 + UInt32($0) - 0x30)!) } ?? c })  // full-width digits
        }
        personalData.insert(id)
        return id
    }

    private mutating func mobile() -> String {
        let m = "1" + pick(["3", "5", "7", "8", "9"]) + digits(9)
        personalData.insert(m)
        return m
    }

    static let injections = [
        "'; DROP TABLE intake_applications; --", "\" OR 1=1 --", "$(rm -rf /tmp/x)", "`reboot`", "; cat /etc/passwd",
        "line one\nERROR card.intake: worker crashed id_number=110105198503072444", "\r\nINFO forged: all good", "%s%s%s%n%x",
        "{{7*7}}${jndi:ldap://127.0.0.1/a}", "../../../../etc/shadow", "<script>alert(1)</script>", "\\u0000\\\\\"",
    ]

    /// Unicode edge cases, as JSON string *contents* (escapes written out where JSON needs them).
    static let unicodeEdges = [
        "\\u0000", "nul\\u0000byte", "\\ud800", "lone low \\udc00 surrogate", "\\udbff\\udfff", "\u{202E}gnp.exe\u{202C}",
        "\u{200F}مرحبا\u{200E}", "👨‍👩‍👧‍👦🇨🇳", "e\u{0301}\u{0301}\u{0301}", "Z̷̢̛̛̤̖͈a̸̧͖l̶g̷o̵", "\u{FEFF}bom", "\u{FFFF}\u{FFFE}",
        "\u{00A0}\u{2028}\u{2029}", "张三\u{200B}丰", "\\u001b[31mred\\u001b[0m",
    ]

    static let impossibleDates = ["2026-02-30", "0000-00-00", "2026-13-01", "9999-99-99", "2026-11-25T25:61:61+08:00", "-0001-01-01", "2026-2-3", ""]

    /// About `bytes` bytes of UTF-8 (never more: the broker's message limit is ~1 MB).
    private mutating func hugeString(_ bytes: Int) -> String {
        let c = pick(["A", "号", "🙂"])
        return String(repeating: c, count: bytes / c.utf8.count)
    }

    /// Raw payloads that are not (valid, complete) JSON.
    private mutating func malformed(from json: String) -> (value: [UInt8]?, kind: String) {
        switch rng.next() % 12 {
        case 0: return (Array(pick(["hello", "<xml/>", "NaN", "nul", "1e999999", "{'single': 'quotes'}", "{\"a\":1,}"]).utf8), "not JSON")
        case 1: return ((0..<(1 + Int(rng.next() % 200))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, "binary")
        case 2: return ([0xFF, 0xFE, 0x7B, 0x22, 0xC0, 0xAF, 0x22, 0x7D], "invalid UTF-8")
        case 3: return ([], "empty value")
        case 4: return (nil, "null value (tombstone)")
        case 5: return (Array((String(repeating: "[", count: 300) + String(repeating: "]", count: 300)).utf8), "nesting 300 deep")
        case 6:
            let bytes = Array(json.utf8)
            return (Array(bytes.prefix(max(1, Int(rng.next() % UInt64(max(bytes.count - 1, 1)))))), "truncated JSON")
        case 7 where hugeLeft > 0:
            hugeLeft -= 1
            return (Array(hugeString(300_000 + Int(rng.next() % 650_000)).utf8), "huge non-JSON")
        case 8: return (Array("\u{0}\u{0}\u{0}".utf8), "NUL bytes")
        case 9: return (Array(pick(Self.injections).utf8), "injection string as the value")
        case 10: return (Array(pick(["[]", "\"a string\"", "42", "null", "true", "[{}]"]).utf8), "JSON, not an object")
        default: return (Array(json.utf8) + Array(pick(["}", "]", "garbage", "\u{0}"]).utf8), "trailing garbage")
        }
    }

    private mutating func key(default fallback: String?) -> (key: [UInt8]?, kind: String) {
        switch rng.next() % 6 {
        case 0: return (nil, "no key")
        case 1: return ((0..<(1 + Int(rng.next() % 40))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, "binary key")
        case 2: return (Array(pick(Self.injections).utf8), "injection key")
        default: return (fallback.map { Array($0.utf8) }, "")
        }
    }

    // MARK: - Submissions

    /// A submission-shaped object as JSON text, with one or more hostile fields.
    private mutating func hostileSubmission(id: JSONText) -> (json: String, kind: String, applicant: String) {
        var fields: [String: JSONText] = [:]
        let applicant = chance(0.5) ? validID() : badID()
        let agent = chance(0.7) ? validID() : badID()
        let photoBytes: JSONText = .raw(pick(["-1", "0", "-20480", "1e308", "9223372036854775808", "\"big\"", "null", "30000"]))
        let attachment: (JSONText) -> JSONText = { bytes in
            .raw("{\"uri\":\"s3://card-docs/x.jpg\",\"sha256\":\"\(String(repeating: "ab", count: 32))\",\"bytes\":\(bytes.text),\"media_type\":\"image/jpeg\",\"width\":358,\"height\":441}")
        }
        fields["schema"] = .string("card.submission.v1")
        fields["submission_id"] = id
        fields["channel"] = .string(pick(["hrss_web", "jingtong", "minsheng", "fax", ""]))
        fields["submitted_at"] = .string(pick(["2026-11-25T10:15:00+08:00"] + Self.impossibleDates))
        fields["consents"] = .raw(pick(["{\"disclaimer\":true,\"commitment\":true,\"data_authorization\":true}", "{\"disclaimer\":\"yes\"}", "[]", "null"]))
        let name = pick(["张三", "代办二十五"] + Self.unicodeEdges + Self.injections)
        fields["agent"] = .raw("{\"name\":\(JSONText.string(name).text),\"id_type\":\"resident_id\",\"id_number\":\(JSONText.string(agent).text),\"id_valid_from\":\"\(pick(Self.impossibleDates))\",\"id_valid_to\":\"long_term\",\"gender\":\"\(pick(["female", "male", "x", ""]))\",\"mobile\":\"\(mobile())\",\"relationship\":\"\(pick(["mother", "father", "guardian", "uncle"]))\",\"documents\":{\"id_front\":\(attachment(.raw("150000")).text),\"id_back\":\(attachment(photoBytes).text)}}")
        fields["applicant"] = .raw("{\"name\":\(JSONText.string(pick(Self.unicodeEdges + Self.injections)).text),\"id_type\":\"\(pick(["resident_id", "household_register", "passport"]))\",\"id_number\":\(JSONText.string(applicant).text),\"id_valid_from\":\"2023-01-10\",\"id_valid_to\":\"\(pick(Self.impossibleDates))\",\"gender\":\"male\",\"birth_date\":\"\(pick(Self.impossibleDates))\",\"nationality\":\"\(pick(["CHN", "ZZZ", "\u{202E}NHC"]))\",\"ethnicity\":\"\(pick(["01", "57", "00", "-1"]))\",\"occupation\":\"\(pick(["student", "9", "'; --"]))\",\"district\":\"\(pick(["110105", "999999", "110105\u{0301}"]))\",\"address\":\(JSONText.string(pick(["北京市朝阳区永安里20号", "北京市朝阳区永安里二十号"] + Self.injections + Self.unicodeEdges)).text),\"mobile\":\"\(mobile())\",\"landline\":\"\(pick(["010-12345678", "+1 (555)", "010-1234567890123"]))\"}")
        fields["documents"] = .raw("{\"photo\":\(attachment(photoBytes).text),\"id_front\":\(attachment(.raw("150000")).text)}")
        fields["card"] = .raw("{\"bank\":\"\(pick(["BOB", "XXX", "bob", "ICBC\u{0000}"]))\",\"branch\":\(JSONText.string(pick(["BOB-0105-01"] + Self.injections)).text),\"pickup\":\"\(pick(["agent_branch_pickup", "mail"]))\",\"functions\":\(pick(["[\"social_security\"]", "\"social_security\"", "[1,2,3]", "{}"]))}")
        var kind = "submission with hostile fields"
        // Wrong types and removed keys.
        for _ in 0..<Int(rng.next() % 4) {
            let field = pick(Array(fields.keys.filter { $0 != "submission_id" }).sorted())
            if chance(0.5) {
                fields[field] = .raw(pick(["null", "42", "-1", "[]", "{}", "true", "\"\"", "1.5e300"]))
                kind += ", wrong type at \(field)"
            } else {
                fields[field] = nil
                kind += ", missing \(field)"
            }
        }
        if hugeLeft > 0 && chance(0.02) {
            hugeLeft -= 1
            fields["notes"] = .string(hugeString(300_000 + Int(rng.next() % 600_000)))
            kind += ", huge field"
        }
        let body = fields.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value.text)" }.joined(separator: ",")
        return ("{" + body + "}", kind, applicant)
    }

    /// A JSON value as text: a string (escaped, keeping our deliberate `\uXXXX` escapes) or raw JSON.
    enum JSONText {
        case string(String)
        case raw(String)
        var text: String {
            switch self {
            case .raw(let t): return t
            case .string(let s):
                var out = "\""
                var scalars = Array(s.unicodeScalars)[...]
                while let c = scalars.first {
                    scalars = scalars.dropFirst()
                    switch c {
                    case "\"": out += "\\\""
                    case "\\":
                        // Keep an escape we wrote on purpose (\uXXXX, \\, \"); escape a lone backslash.
                        if let n = scalars.first, "u\\\"".unicodeScalars.contains(n) { out += "\\" + String(n); scalars = scalars.dropFirst() }
                        else { out += "\\\\" }
                    case "\n": out += "\\n"
                    case "\r": out += "\\r"
                    case "\t": out += "\\t"
                    default:
                        if c.value < 0x20 { out += String(format: "\\u%04x", c.value) } else { out.unicodeScalars.append(c) }
                    }
                }
                return out + "\""
            }
        }
    }

    /// Properties of the producer that publishes the records: `message.max.bytes` raised to 1 MiB,
    /// the Java client's default `max.request.size`, so the near-1-MiB submission is publishable.
    static let feederProperties = ["message.max.bytes": "1048576"]

    /// Bytes of the near-1-MiB submission (case ow-04c's size).
    static let nearOneMiB = 1_040_000

    /// A submission-shaped record for the size kinds: `functions` as raw JSON, the value padded
    /// with address characters to `padTo` bytes when given.
    mutating func sizeRecord(amplifier: Bool, partition: Int32) -> Record {
        serial += 1
        let id = "h-\(runID)-\(serial)"
        let agent = validID(), applicant = validID()
        let functions = amplifier ? "[" + Array(repeating: "0", count: 20_000).joined(separator: ",") + "]"
                                  : "[\"social_security\",\"medical_settlement\"]"
        let attachment = "{\"uri\":\"s3://card-docs/x.jpg\",\"sha256\":\"\(String(repeating: "ab", count: 32))\",\"bytes\":150000,\"media_type\":\"image/jpeg\",\"width\":358,\"height\":441}"
        func json(address: String) -> String {
            "{\"schema\":\"card.submission.v1\",\"submission_id\":\"\(id)\",\"channel\":\"hrss_web\",\"submitted_at\":\"2026-11-25T10:15:00+08:00\","
                + "\"consents\":{\"disclaimer\":true,\"commitment\":true,\"data_authorization\":true},"
                + "\"agent\":{\"name\":\"张三\",\"id_type\":\"resident_id\",\"id_number\":\"\(agent)\",\"id_valid_from\":\"2019-04-01\",\"id_valid_to\":\"long_term\",\"gender\":\"female\",\"mobile\":\"\(mobile())\",\"relationship\":\"mother\",\"documents\":{\"id_front\":\(attachment),\"id_back\":\(attachment)}},"
                + "\"applicant\":{\"name\":\"李四\",\"id_type\":\"resident_id\",\"id_number\":\"\(applicant)\",\"id_valid_from\":\"2023-06-01\",\"id_valid_to\":\"2028-06-01\",\"gender\":\"male\",\"birth_date\":\"2017-03-14\",\"nationality\":\"CHN\",\"ethnicity\":\"01\",\"occupation\":\"student\",\"district\":\"110105\",\"address\":\"\(address)\",\"mobile\":\"\(mobile())\"},"
                + "\"documents\":{\"photo\":\(attachment),\"id_front\":\(attachment),\"id_back\":\(attachment),\"birth_certificate\":\(attachment)},"
                + "\"card\":{\"bank\":\"BOB\",\"branch\":\"BOB-0105-01\",\"pickup\":\"agent_branch_pickup\",\"functions\":\(functions)}}"
        }
        var text = json(address: "北京市朝阳区安贞里社区12号")
        if !amplifier { text = json(address: "北京市朝阳区安贞里社区12号" + String(repeating: "A", count: Self.nearOneMiB - text.utf8.count)) }
        return Record(topic: CardTopics.submission, partition: partition, key: Array(applicant.utf8), value: Array(text.utf8),
                      kind: amplifier ? "amplifier: 20,000 non-strings in card.functions" : "\(text.utf8.count)-byte submission (legal for a Java producer)",
                      expectation: amplifier ? .rejectedSchemaInvalid : .rejectedTooLarge, submissionID: id)
    }

    mutating func submissionRecord(partition: Int32) -> Record {
        serial += 1
        let goodID = "h-\(runID)-\(serial)"
        let roll = rng.next() % 100
        if roll < 25 {
            // Not usable as a submission at all.
            let (json, _, applicant) = hostileSubmission(id: .string(goodID))
            let (value, kind) = malformed(from: json)
            let (key, keyKind) = key(default: applicant)
            return Record(topic: CardTopics.submission, partition: partition, key: key, value: value,
                          kind: kind + (keyKind.isEmpty ? "" : ", " + keyKind), expectation: .deadLetter, submissionID: nil)
        }
        if roll < 40 {
            // A submission whose submission_id is unusable.
            let badID: JSONText = pick([.raw("null"), .raw("42"), .string(""), .string(String(repeating: "a", count: 65)),
                                        .string("../etc/passwd"), .string("id with space"), .string("张三"), .string("h-\u{202E}1"),
                                        .string("\\u0000"), .raw("[\"h-1\"]"), .string("'; DROP TABLE x; --")])
            var (json, kind, applicant) = hostileSubmission(id: badID)
            if chance(0.2) { json = json.replacingOccurrences(of: "\"submission_id\":\(badID.text),", with: ""); kind += ", no submission_id" }
            let (key, keyKind) = key(default: applicant)
            return Record(topic: CardTopics.submission, partition: partition, key: key, value: Array(json.utf8),
                          kind: "unusable submission_id; " + kind + (keyKind.isEmpty ? "" : ", " + keyKind), expectation: .deadLetter, submissionID: nil)
        }
        let (json, kind, applicant) = hostileSubmission(id: .string(goodID))
        let (key, keyKind) = key(default: applicant)
        return Record(topic: CardTopics.submission, partition: partition, key: key, value: Array(json.utf8),
                      kind: kind + (keyKind.isEmpty ? "" : ", " + keyKind), expectation: .rejectedStatus, submissionID: goodID)
    }

    // MARK: - Other topics

    mutating func otherRecord(topic: String, partition: Int32) -> Record {
        serial += 1
        let appID = "h-\(runID)-\(serial)"
        // A well-formed-looking object of the topic, to truncate, retype or fill with hostile strings.
        let id = validID()
        let object: String
        switch topic {
        case CardTopics.bankEvents:
            object = "{\"application_id\":\"\(appID)\",\"order_id\":\(JSONText.string(pick(["o-1"] + Self.injections)).text),\"event\":\"\(pick(["accepted", "at_branch", "exploded", ""]))\",\"reason\":\(JSONText.string(pick(Self.unicodeEdges)).text),\"at\":\"\(pick(["2026-11-25T10:15:00+08:00"] + Self.impossibleDates))\"}"
        case CardTopics.applicationClosed:
            object = "{\"schema\":\"card.application-closed.v1\",\"application_id\":\"\(appID)\",\"applicant_id_number\":\"\(id)\",\"status\":\"\(pick(["rejected", "failed", "exploded"]))\",\"at\":\"\(pick(["2026-11-25T10:15:00+08:00"] + Self.impossibleDates))\"}"
        case CardTopics.registryPersons:
            object = "{\"id_number\":\"\(id)\",\"name\":\(JSONText.string(pick(Self.unicodeEdges)).text),\"gender\":\"\(pick(["male", "female", "x"]))\",\"birth_date\":\"\(pick(Self.impossibleDates))\",\"status\":\"\(pick(["active", "zombie"]))\",\"father_id\":\(pick(["null", "42", "\"\(id)\""])),\"mother_id\":null,\"guardian_ids\":\(pick(["[]", "null", "\"x\"", "[1]"])),\"household_id\":null,\"is_householder\":\(pick(["true", "\"yes\"", "null"]))}"
        case CardTopics.bankBranches:
            object = "{\"bank\":\"\(pick(["BOB", "XXX", ""]))\",\"branch\":\(JSONText.string(pick(["BOB-0105-99"] + Self.injections)).text),\"name\":\(JSONText.string(pick(Self.unicodeEdges)).text),\"district\":\"\(pick(["110105", "-1"]))\",\"address\":\"x\",\"open\":\(pick(["true", "\"yes\"", "null", "1"])),\"serves_minors\":\(pick(["true", "0", "[]"]))}"
        default:  // the internal envelopes
            object = "{\"schema\":\"card.application.v1\",\"application_id\":\"\(appID)\",\"seq\":\(pick(["-1", "1e99", "\"1\"", "null"])),\"submission\":\(pick(["null", "{}", "[]", "\"x\""])),\"applicant_id_number\":\"\(id)\",\"mobile\":\"\(mobile())\"}"
        }
        let (key, keyKind) = key(default: topic == CardTopics.bankBranches ? "BOB/BOB-0105-99" : id)
        let suffix = keyKind.isEmpty ? "" : ", " + keyKind
        let reference = topic == CardTopics.registryPersons || topic == CardTopics.bankBranches
        if topic == CardTopics.applicationClosed && rng.next() % 5 == 0 {
            // Well-formed, for an application nobody has: intake's UPDATE/DELETE touch no row.
            let closed = ApplicationClosed(applicationID: appID, applicantIDNumber: id, status: .rejected, at: Timestamp.now())
            return Record(topic: topic, partition: partition, key: Array(id.utf8), value: Array((try? CardJSON.encode(closed)) ?? Data()),
                          kind: "well-formed close of an unknown application", expectation: .noOp)
        }
        if rng.next() % 3 == 0 {
            // The object itself: wrong types, impossible dates, unicode, injection strings.
            return Record(topic: topic, partition: partition, key: key, value: Array(object.utf8), kind: "hostile object" + suffix,
                          expectation: reference ? (topic == CardTopics.bankBranches ? .rejectedOrApplied : .rejectedReference)
                                : (topic == CardTopics.applicationClosed ? .deadLetterOrNoOp : .deadLetter))
        }
        let (value, kind) = malformed(from: object)
        // A tombstone removes its key (a no-op for an unknown one); without a key it is rejected.
        let expectation: Expectation = reference ? (value == nil ? (key == nil ? .rejectedReference : .noOp) : .rejectedReference) : .deadLetter
        return Record(topic: topic, partition: partition, key: key, value: value, kind: kind + suffix, expectation: expectation)
    }

    /// The contract key of a record on an outside-written topic, as the workers derive it (`ContractKeys`).
    static func contractKey(topic: String, value: [UInt8]?) -> String? {
        guard let value else { return nil }
        switch topic {
        case CardTopics.submission: return ContractKeys.submission(value)
        case CardTopics.bankEvents: return ContractKeys.bankEvent(value)
        default: return nil
        }
    }

    /// `count` records over the input topics: half to card.submission, the rest spread evenly,
    /// each topic's records round-robin over its partitions (so every offset is known in advance).
    mutating func records(count: Int, partitions: (String) -> Int32) -> [Record] {
        var perTopic: [String: Int32] = [:]
        var out: [Record] = []
        // Real people's data at the edges takes one round (of HostileDomainRecords.perRound) per 200 records.
        let domainRounds = count >= 50 ? max(1, count / 200) : 0
        for i in 0..<(count - domainRounds * HostileDomainRecords.perRound) {
            let topic = i % 2 == 0 ? CardTopics.submission : Self.inputTopics[1 + (i / 2) % (Self.inputTopics.count - 1)]
            let index = perTopic[topic, default: 0]
            perTopic[topic] = index + 1
            let partition = index % partitions(topic)
            var record: Record
            if topic == CardTopics.submission && index < 2 {
                record = sizeRecord(amplifier: index == 0, partition: partition)
            } else {
                record = topic == CardTopics.submission ? submissionRecord(partition: partition) : otherRecord(topic: topic, partition: partition)
            }
            // A record whose contract key the fleet can read goes where that key maps (whatever its Kafka
            // key): elsewhere the worker would re-key it to there, off the offsets this run checks.
            if let contractKey = Self.contractKey(topic: topic, value: record.value) {
                record.partition = KafkaPartitioner.fleetDefault.partition(forKey: Array(contractKey.utf8), partitionCount: partitions(topic))
            }
            out.append(record)
        }
        // Then those rounds, partitions continuing round-robin.
        var domain = HostileDomainRecords(runID: runID)
        for round in 0..<domainRounds {
            for var record in domain.round(round, today: Timestamp.now().shanghaiDate) {
                let index = perTopic[record.topic, default: 0]
                perTopic[record.topic] = index + 1
                record.partition = index % partitions(record.topic)
                if let contractKey = Self.contractKey(topic: record.topic, value: record.value) {
                    record.partition = KafkaPartitioner.fleetDefault.partition(forKey: Array(contractKey.utf8), partitionCount: partitions(record.topic))
                }
                out.append(record)
            }
        }
        personalData.formUnion(domain.personalData)
        return out
    }
}
