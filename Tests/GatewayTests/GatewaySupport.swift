import CardDomain
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import JSONCodec
import Logging
import Synchronization

/// Fixed "now" for the rules: 2026-11-25 10:15 Beijing time.
let fixedNow = Date(timeIntervalSince1970: 1_795_572_900)
var fixedToday: CivilDate { Timestamp(fixedNow).shanghaiDate }

/// The demo keys of the tests, one per channel.
enum TestKeys {
    static let web = "test-hrss-web-key-0123456789"
    static let jingtong = "test-jingtong-key-0123456789"
    static let minsheng = "test-minsheng-key-0123456789"
    static var all: APIKeys {
        try! APIKeys([(.hrssWeb, web), (.jingtong, jingtong), (.minsheng, minsheng)])
    }
}

/// A mother, her son and (optionally) a guardian, as registry records; ages relative to `fixedToday`.
struct TestFamily {
    let mother: RegistryPerson
    let child: RegistryPerson

    /// - Parameters:
    ///   - age: the child's age today (completed years).
    ///   - serial: makes the numbers unique between families.
    init(serial: Int, age: Int = 10, childStatus: RegistryPerson.Status = .active, motherRecorded: Bool = true) {
        let today = fixedToday
        let motherBorn = CivilDate(year: 1985, month: 3, day: 7)!
        let childBorn = CivilDate(year: today.year - age, month: 3, day: 7)!
        let motherID = IDNumber.make(region: "110105", birthDate: motherBorn, gender: .female, serial: serial)!.rawValue
        let childID = IDNumber.make(region: "110105", birthDate: childBorn, gender: .male, serial: serial)!.rawValue
        mother = RegistryPerson(idNumber: motherID, name: "张三", gender: .female, birthDate: motherBorn,
                                householdID: "H\(serial)", isHouseholder: true)
        child = RegistryPerson(idNumber: childID, name: "代办二十五", gender: .male, birthDate: childBorn, status: childStatus,
                               motherID: motherRecorded ? motherID : nil, householdID: "H\(serial)")
    }

    var records: [(key: String, value: [UInt8])] {
        [(mother.idNumber, try! CardJSON.encodeBytes(mother)), (child.idNumber, try! CardJSON.encodeBytes(child))]
    }

    func eligibilityBody(idType: String = "resident_id", consent: JSONValue = true, name: String? = nil,
                         agent: String? = nil) -> String {
        #"{"applicant": {"name": "\#(name ?? child.name)", "id_type": "\#(idType)", "id_number": "\#(child.idNumber)"}, "agent": {"id_number": "\#(agent ?? mother.idNumber)"}, "consents": {"data_authorization": \#(String(decoding: try! CardJSON.encodeBytes(consent), as: UTF8.self))}}"#
    }

    /// A valid submission (the contract's example) for this family, without `channel` unless given.
    func submission(id: String, channel: String? = nil, mobile: String = "13412342458", address: String = "北京市朝阳区永安里20号") -> String {
        func attachment(_ name: String, bytes: Int = 123456, mediaType: String = "image/jpeg") -> String {
            #"{"uri": "s3://card-docs/\#(id)/\#(name)", "sha256": "\#(String(repeating: "ab", count: 32))", "bytes": \#(bytes), "media_type": "\#(mediaType)", "width": 358, "height": 441}"#
        }
        return """
        {
          "schema": "card.submission.v1", "submission_id": "\(id)", \(channel.map { "\"channel\": \"\($0)\"," } ?? "")
          "submitted_at": "\(Timestamp(fixedNow).description)",
          "consents": {"disclaimer": true, "commitment": true, "data_authorization": true},
          "agent": {
            "name": "\(mother.name)", "id_type": "resident_id", "id_number": "\(mother.idNumber)",
            "id_valid_from": "2015-06-01", "id_valid_to": "2035-06-01",
            "gender": "female", "mobile": "\(mobile)", "relationship": "mother",
            "documents": {"id_front": \(attachment("agent_id_front.jpg")), "id_back": \(attachment("agent_id_back.jpg"))}
          },
          "applicant": {
            "name": "\(child.name)", "id_type": "resident_id", "id_number": "\(child.idNumber)",
            "id_valid_from": "2023-01-10", "id_valid_to": "2028-01-10",
            "gender": "male", "birth_date": "\(child.birthDate)", "nationality": "CHN",
            "ethnicity": "01", "occupation": "student", "district": "110105",
            "address": "\(address)", "mobile": "13412342458"
          },
          "documents": {"photo": \(attachment("photo.jpg", bytes: 48213)), "id_front": \(attachment("id_front.jpg")),
                        "id_back": \(attachment("id_back.jpg")), "birth_certificate": \(attachment("birth.png", mediaType: "image/png"))},
          "card": {"bank": "BOB", "branch": "BOB-0105-01", "pickup": "agent_branch_pickup", "functions": ["social_security"]}
        }
        """
    }
}

let testBranches: [Branch] = [
    Branch(bank: "BOB", branch: "BOB-0105-01", name: "北京银行朝阳支行", district: "110105", address: "北京市朝阳区建国路1号"),
    Branch(bank: "BOB", branch: "BOB-0105-02", name: "北京银行永安里支行", district: "110105", address: "北京市朝阳区永安里2号", open: false),
    Branch(bank: "BOB", branch: "BOB-0108-01", name: "北京银行海淀支行", district: "110108", address: "北京市海淀区中关村大街5号"),
    Branch(bank: "BOB", branch: "BOB-0108-02", name: "北京银行学院路支行", district: "110108", address: "北京市海淀区学院路8号", servesMinors: false),
    Branch(bank: "ICBC", branch: "ICBC-0105-01", name: "工商银行朝阳支行", district: "110105", address: "北京市朝阳区光华路3号"),
]

/// Records what the gateway publishes; fails on demand.
final class RecordingPublisher: SubmissionPublisher {
    let published = Mutex<[(key: String, value: [UInt8])]>([])
    let failNext = Mutex(0)

    struct Refused: Error {}

    func publish(key: [UInt8], value: [UInt8]) async throws {
        if failNext.withLock({ n in defer { n = max(0, n - 1) }; return n > 0 }) { throw Refused() }
        published.withLock { $0.append((String(decoding: key, as: UTF8.self), value)) }
    }

    var count: Int { published.withLock { $0.count } }
}

/// Every log line the gateway wrote, message and metadata rendered.
final class LogRecorder: Sendable {
    let lines = Mutex<[String]>([])

    var logger: Logger {
        Logger(label: "test.gateway") { _ in Handler(recorder: self) }
    }

    struct Handler: LogHandler {
        let recorder: LogRecorder
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { _, new in new }
            recorder.lines.withLock { $0.append("\(event.level) \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))") }
        }
    }
}

/// A gateway over in-memory views (fed the way the feeder feeds them) and a recording publisher.
struct GatewayUnderTest {
    let views = GatewayViews()
    let publisher = RecordingPublisher()
    let logs = LogRecorder()
    var configuration = GatewayConfiguration(keys: TestKeys.all)

    init(loaded: Bool = true, configure: (inout GatewayConfiguration) -> Void = { _ in }) {
        configure(&configuration)
        if loaded { views.markLoaded() }
        for branch in testBranches {
            views.apply(topic: GatewayTopics.branches, key: Array(branch.key.utf8), value: try! CardJSON.encodeBytes(branch), today: fixedToday)
        }
    }

    func add(_ family: TestFamily) {
        for record in family.records {
            views.apply(topic: GatewayTopics.registry, key: Array(record.key.utf8), value: record.value, today: fixedToday)
        }
    }

    func status(_ applicationID: String, _ status: ApplicationStatus, seq: Int, reasons: [Reason] = []) {
        let event = StatusEvent(applicationID: applicationID, status: status, reasons: reasons, at: Timestamp(fixedNow), seq: seq)
        views.apply(topic: GatewayTopics.status, key: Array(applicationID.utf8), value: try! CardJSON.encodeBytes(event), today: fixedToday)
    }

    func test<Value>(_ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        let router = GatewayRoutes.router(configuration: configuration, views: views, publisher: publisher, now: { fixedNow })
        let app = Application(router: router, logger: logs.logger)
        return try await app.test(.router, body)
    }
}

extension TestClientProtocol {
    /// A call with a channel's key (or none) and a JSON body.
    func call(_ method: HTTPRequest.Method, _ uri: String, key: String? = TestKeys.web, body: String? = nil,
              headers extra: HTTPFields = [:]) async throws -> TestResponse {
        var headers = extra
        if let key { headers[.authorization] = "Bearer \(key)" }
        if body != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }
}

extension TestResponse {
    var json: JSONValue? { JSONValue(parsing: Array(body.readableBytesView)) }
    var text: String { String(buffer: body) }
    /// The reason codes of an error body, in order.
    var reasonCodes: [String] { json?["reasons"]?.arrayValue?.compactMap { $0["code"]?.stringValue } ?? [] }
}

extension JSONValue {
    /// The element at `index` of an array, else `nil`.
    subscript(index: Int) -> JSONValue? {
        guard let items = arrayValue, items.indices.contains(index) else { return nil }
        return items[index]
    }
}
