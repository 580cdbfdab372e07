import CardDomain
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import FleetSupport
import JSONCodec
import Kafka
import Logging
import Testing

/// A free TCP port on the loopback interface (bound, read, released).
func freeLoopbackPort() -> Int {
    let socket = Foundation.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// `fleet up` (embedded broker, the four workers, the gateway with its pages: `CARD_GATEWAY_PAGES=1`) in a
/// scratch run folder, with this test's registry families and bank branches published to it.
final class PortalFleet: @unchecked Sendable {
    let runDir: URL
    let gatewayPort = freeLoopbackPort()
    let process: ChildProcess
    var base: String { "http://127.0.0.1:\(gatewayPort)" }

    init() throws {
        runDir = FileManager.default.temporaryDirectory.appendingPathComponent("portal-flows-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: runDir, withIntermediateDirectories: true)
        process = try ChildProcess(
            name: "fleet-up", executable: BuildProducts.executable("fleet"),
            arguments: ["up", "--run-dir", runDir.path, "--topics-dir", KafkaGateway.repositoryRoot.appendingPathComponent("Topics").path,
                        "--ops-port", "0", "--worker-ops-port", "0", "--gateway-port", "\(gatewayPort)"],
            environment: ["CARD_GATEWAY_PAGES": "1"],
            logFile: runDir.appendingPathComponent("console.log"))
    }

    /// The demo key `fleet up` wrote for `channel`.
    func key(_ channel: String) -> String? {
        let text = (try? String(contentsOf: runDir.appendingPathComponent("gateway-keys"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix("\(channel)=") }.map { String($0.dropFirst(channel.count + 1)) }
    }

    var bootstrapServers: String? {
        (try? String(contentsOf: runDir.appendingPathComponent("bootstrap"), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func request(_ path: String, channel: String, body: String? = nil) async -> (status: Int, json: JSONValue?) {
        var request = URLRequest(url: URL(string: base + path)!)
        request.timeoutInterval = 30
        if let key = key(channel) { request.setValue("Bearer \(key)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpMethod = "POST"
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        guard let (data, response) = try? await URLSession.shared.data(for: request) else { return (0, nil) }
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, JSONValue(parsing: Array(data)))
    }

    func stop() async { await process.stop() }

    deinit {
        process.signal(SIGKILL)
        try? FileManager.default.removeItem(at: runDir)
    }
}

/// Each channel's flow, driven in headless Chromium (scripts/gateway_portal_flows.py: Debian's chromium and
/// chromium-driver, python3 selenium) against a running fleet.
@Suite("The reference portal pages in headless Chromium", .serialized, .timeLimit(.minutes(8)))
struct PortalFlowTests {
    struct Case {
        var channel: String
        var family: TestFamily
        var blocked: TestFamily
        var idType: String
        var household: Bool
        var defaultPhoto: Bool
    }

    @Test("every channel: a child with an active application is stopped at 资格校验; another child's application, filled in and submitted through the channel's steps, reaches in_production and the status page shows it")
    func flows() async throws {
        let cases = [
            Case(channel: "hrss_web", family: TestFamily(serial: 80, age: 12), blocked: TestFamily(serial: 83),
                 idType: "resident_id", household: false, defaultPhoto: false),
            // 16: 户口簿 is no longer offered; 居民身份证 only.
            Case(channel: "jingtong", family: TestFamily(serial: 81, age: 16), blocked: TestFamily(serial: 84),
                 idType: "resident_id", household: false, defaultPhoto: false),
            // 5: 户口簿 with the household answers (the mother is the householder, same booklet) and the default cartoon photo.
            Case(channel: "minsheng", family: TestFamily(serial: 82, age: 5), blocked: TestFamily(serial: 85),
                 idType: "household_register", household: true, defaultPhoto: true),
        ]
        let fleet = try PortalFleet()
        let logger = Logger(label: "test.portal-flows")

        // The fleet's broker: registry, branches, and each blocked child's application sent straight to Kafka.
        var servers: String?
        let started = ContinuousClock.now
        while servers == nil && ContinuousClock.now - started < .seconds(60) {
            servers = fleet.bootstrapServers
            if servers == nil { try await Task.sleep(for: .milliseconds(200)) }
        }
        let bootstrap = try #require(servers, "fleet up wrote no bootstrap file")
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(bootstrapServers: bootstrap)), logger: logger)
        for item in cases {
            for family in [item.family, item.blocked] {
                for record in family.records {
                    try await producer.send(ProducerRecord(topic: "registry.persons", key: Array(record.key.utf8), value: record.value))
                }
            }
            let direct = item.blocked.submission(id: "direct-\(item.channel)", channel: item.channel)
                .replacingOccurrences(of: Timestamp(fixedNow).description, with: Timestamp(Date()).description)
            try await producer.send(ProducerRecord(topic: "card.submission", key: Array(item.blocked.child.idNumber.utf8), value: Array(direct.utf8)))
        }
        for branch in testBranches {
            try await producer.send(ProducerRecord(topic: "bank.branches", key: Array(branch.key.utf8), value: try CardJSON.encodeBytes(branch)))
        }

        // Ready when the gateway's views hold them: eligible for the families, DUPLICATE for the blocked children.
        var ready = false
        while !ready && ContinuousClock.now - started < .seconds(120) {
            ready = true
            for item in cases {
                let yes = await fleet.request("/v1/eligibility", channel: item.channel, body: item.family.eligibilityBody(idType: item.idType))
                let no = await fleet.request("/v1/eligibility", channel: item.channel, body: item.blocked.eligibilityBody())
                if yes.json?["eligible"] != true || no.json?["reasons"]?[0]?["code"] != "DUPLICATE_ACTIVE_APPLICATION" { ready = false }
            }
            if !ready { try await Task.sleep(for: .milliseconds(500)) }
        }
        let console = { readGrowingTextFile(fleet.runDir.appendingPathComponent("console.log")) }
        try #require(ready, "the gateway's views did not show the test's families within 120 s: \(console().suffix(3000))")

        // The scenario the browser plays, and the browser.
        func person(_ p: RegistryPerson) -> [String: Any] {
            ["name": p.name, "id_number": p.idNumber, "gender": p.gender.rawValue, "mobile": "13412342458", "valid_from": "2015-06-01"]
        }
        func child(_ p: RegistryPerson, _ item: Case) -> [String: Any] {
            var value: [String: Any] = ["name": p.name, "id_number": p.idNumber, "id_type": item.idType,
                                        "valid_from": "2023-01-10", "valid_to": "2028-01-10", "default_photo": item.defaultPhoto,
                                        "age": p.birthDate.age(on: Timestamp(Date()).shanghaiDate)]
            if item.household { value["household"] = ["agent_is_householder": true, "same_booklet": true] }
            return value
        }
        var channels: [String: Any] = [:]
        for item in cases {
            channels[item.channel] = [
                "agent": person(item.family.mother), "child": child(item.family.child, item),
                "blocked": ["agent": person(item.blocked.mother), "child": child(item.blocked.child, Case(
                    channel: item.channel, family: item.blocked, blocked: item.blocked, idType: "resident_id", household: false, defaultPhoto: false))],
            ]
        }
        let scenario = fleet.runDir.appendingPathComponent("scenario.json")
        try JSONSerialization.data(withJSONObject: ["channels": channels]).write(to: scenario)
        let screenshots = ProcessInfo.processInfo.environment["CARD_PORTAL_SCREENSHOTS"].map { URL(fileURLWithPath: $0) }
            ?? fleet.runDir.appendingPathComponent("screenshots")

        let browser = Process()
        browser.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        browser.arguments = ["python3", KafkaGateway.repositoryRoot.appendingPathComponent("scripts/gateway_portal_flows.py").path,
                             "--base", fleet.base, "--scenario", scenario.path, "--screenshots", screenshots.path]
        let output = Pipe()
        browser.standardOutput = output
        browser.standardError = output
        browser.standardInput = FileHandle.nullDevice
        try browser.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        browser.waitUntilExit()
        #expect(browser.terminationStatus == 0, "\(text)")
        #expect(text.contains("portal flows: 3 passed, 0 failed"), "\(text)")

        // What the browser reported, checked against the gateway itself (with the channel's key).
        let results = text.split(separator: "\n").filter { $0.hasPrefix("flow: ") }.compactMap { JSONValue(parsing: Array($0.dropFirst(6).utf8)) }
        for item in cases {
            let result = results.first { $0["channel"] == .string(item.channel) }
            #expect(result?["blocked_at_eligibility"] == true, "\(item.channel): \(text)")
            guard let id = result?["application_id"]?.stringValue else {
                Issue.record("\(item.channel): no application id: \(text)")
                continue
            }
            let status = await fleet.request("/v1/applications/\(id)", channel: item.channel)
            let statuses = status.json?["statuses"]?.arrayValue?.compactMap { $0["status"]?.stringValue } ?? []
            #expect(Array(statuses.prefix(4)) == ["received", "identity_verified", "routed", "in_production"], "\(item.channel) \(id): \(statuses)")
            #expect(status.json?["statuses"]?[1]?["relationship_label"] == "母子")
            #expect(status.json?["channel"] == .string(item.channel))
            #expect(FileManager.default.fileExists(atPath: screenshots.appendingPathComponent("\(item.channel)-status.png").path))
            // The claim checks' bytes are in the channel's folder, each named by its SHA-256.
            let folder = fleet.runDir.appendingPathComponent("uploads/\(item.channel)")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            #expect(names.count >= (item.defaultPhoto ? 5 : 6), "\(item.channel) uploads: \(names)")
            for name in names {
                let bytes = try Data(contentsOf: folder.appendingPathComponent(name))
                #expect(SHA256.hex(Array(bytes)) == name)
            }
        }
        await fleet.stop()
    }
}
