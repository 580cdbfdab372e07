import CardDomain
import Foundation
import FleetSupport
import Kafka
import Logging
import ServiceLifecycle
import Testing
@testable import OperatorViews

@Suite("The ops page in headless Chromium", .serialized, .timeLimit(.minutes(3)))
struct OpsPageTests {
    let logger = Logger(label: "test.ops-page")

    @Test("shows a stalled group's status and lag, applications per status, and dead letters with masked key and cause")
    func pageInChromium() async throws {
        let cluster = try EmbeddedCluster(logger: logger)
        for topic in ["card.status", "card.dlq", "card.dlq-audit", "ops.input"] { try cluster.createTopic(TopicSpec(name: topic, partitions: 2)) }
        let client = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client), logger: logger)
        let idNumber = "110105201503070013"
        let letter = DeadLetter(sourceTopic: "card.submission", partition: 1, offset: 42, key: idNumber,
                                error: "not JSON: unexpected character near 13412342458", payload: Array("{oops \(idNumber)".utf8),
                                worker: "intake", at: Timestamp(Date()))
        var records = [ProducerRecord(topic: "card.dlq", key: Array(idNumber.utf8), value: Array(try JSONEncoder().encode(letter)))]
        // A second letter that failed the same way (other numbers): one cause, counted twice.
        var sibling = letter
        sibling.error = "not JSON: unexpected character near 13800001111"
        sibling.offset = 43
        records.append(ProducerRecord(topic: "card.dlq", key: Array(idNumber.utf8), value: Array(try JSONEncoder().encode(sibling))))
        let audit = DeadLetterAudit(action: .replay, deadLetter: "card.dlq/1/7", sourceTopic: "card.bank-events", operatorName: "wang.li",
                                    reason: "order arrived; called back 13412342458", at: Timestamp(Date()), patch: ["add /reason: \"x\""])
        records.append(ProducerRecord(topic: "card.dlq-audit", key: Array("card.dlq/1/7".utf8), value: Array(try JSONEncoder().encode(audit))))
        for (i, status) in [ApplicationStatus.received, .received, .rejected].enumerated() {
            let event = StatusEvent(applicationID: "ops-\(i)", submissionID: "ops-\(i)", status: status, at: Timestamp(Date()), seq: 1)
            records.append(ProducerRecord(topic: "card.status", key: Array("ops-\(i)".utf8), value: Array(try JSONEncoder().encode(event))))
        }
        records += (0..<7).map { _ in ProducerRecord(topic: "ops.input", partition: 0, key: nil, value: Array("x".utf8)) }
        #expect(await producer.send(records).allSatisfy { $0 == nil })
        let group = try KafkaConsumer(configuration: KafkaConsumerConfiguration(client: client, groupID: "ops-group"), logger: logger)
        try group.commit([TopicPartitionOffset(topic: "ops.input", partition: 0, offset: 4)], async: false)

        let collector = OpsCollector(bootstrapServers: cluster.bootstrapServers,
                                     groups: [ConsumerGroupSpec(group: "ops-group", topics: ["ops.input"])],
                                     workerMetrics: [], interval: .milliseconds(300), logger: logger)
        let port = OpsSupport.freePort()
        let app = OpsPage.application(host: "127.0.0.1", port: port, collector: collector, logger: logger)
        let services = ServiceGroup(configuration: .init(services: [.init(service: collector), .init(service: app)], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await services.run() }
            defer { tasks.cancelAll() }
            let state = await OpsSupport.waitFor("http://127.0.0.1:\(port)/api/state") { status, body in
                status == 200 && body.contains("\"STALL\"") && body.contains("card.submission") && body.contains("\"rejected\":1")
            }
            #expect(state?.body.contains("110105********0013") == true)
            #expect(state?.body.contains(idNumber) == false, "no unmasked ID number in the page's data")
            #expect(state?.body.contains("payload") == false, "never the payload")

            let dom = try Self.chromium(["--dump-dom", "http://127.0.0.1:\(port)/"])
            #expect(dom.contains("card pipeline ops"))
            #expect(dom.contains("data-group=\"ops-group\""), "a worker row")
            // The group committed offset 4 of 7 and stopped: its status and lag.
            #expect(dom.contains("<td>ops-group</td><td class=\"status STALL\">STALL</td><td class=\"num\">3</td>"), "status and lag of the group")
            #expect(dom.contains("<tr data-status=\"received\"><td>received</td><td class=\"num\">2</td></tr>"))
            #expect(dom.contains("<tr data-status=\"rejected\"><td>rejected</td><td class=\"num\">1</td></tr>"))
            #expect(dom.contains("not JSON: unexpected character near 134****2458"), "the dead letter's cause, masked")
            #expect(dom.contains("110105********0013") && !dom.contains(idNumber), "the key masked")
            #expect(dom.contains("<tr><td class=\"num\">2</td><td class=\"cause\">not JSON: unexpected character near #</td></tr>"),
                    "dead letters grouped by cause with their count")
            #expect(dom.contains("<td>replay</td><td>card.dlq/1/7</td><td>card.bank-events</td><td>wang.li</td><td class=\"cause\">order arrived; called back 134****2458</td>"),
                    "the replay history, its reason masked")
            #expect(dom.contains("id=\"lag-chart\"") && dom.contains("<polyline data-series=\"ops-group\""), "the lag chart drawn")

            let png = FileManager.default.temporaryDirectory.appendingPathComponent("ops-page-\(UUID().uuidString).png")
            defer { try? FileManager.default.removeItem(at: png) }
            _ = try Self.chromium(["--window-size=1200,1400", "--screenshot=\(png.path)", "http://127.0.0.1:\(port)/"])
            let bytes = try Data(contentsOf: png)
            #expect(bytes.count > 10_000 && bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a real PNG screenshot")
            await services.triggerGracefulShutdown()
        }
    }

    /// Runs headless Chromium (Debian's `chromium`, installed by scripts/install-deps.sh) and returns its stdout.
    static func chromium(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/chromium")
        process.arguments = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(NSTemporaryDirectory())chromium-\(UUID().uuidString)"] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
