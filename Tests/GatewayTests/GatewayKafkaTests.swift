import CardDomain
import Foundation
import FleetSupport
import Gateway
import Hummingbird
import HummingbirdTesting
import JSONCodec
import Kafka
import Logging
import Testing
import WorkerRuntime

/// The embedded broker with the topics of Topics/, a producer, and a gateway whose views the
/// real ``ViewFeeder`` keeps from it.
final class KafkaGateway: @unchecked Sendable {
    let logger = Logger(label: "test.gateway.kafka")
    let cluster: EmbeddedCluster
    let producer: KafkaProducer
    let views = GatewayViews()
    let feeder: ViewFeeder
    let counts: [String: Int32]
    private var feeding: Task<Void, any Error>?

    init() throws {
        cluster = try EmbeddedCluster(logger: logger)
        let specs = try TopicCatalog.load(from: Self.repositoryRoot.appendingPathComponent("Topics"))
        for spec in specs { try cluster.createTopic(spec) }
        counts = Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0.partitions) })
        let client = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers)
        producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client), logger: logger)
        feeder = ViewFeeder(client: client, views: views, logger: logger, today: { fixedToday })
    }

    var client: KafkaClientConfiguration { KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers) }

    static var repositoryRoot: URL {
        var url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Topics").path) && url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url
    }

    func publish(_ topic: String, key: String, value: [UInt8]) async throws {
        try await producer.send(ProducerRecord(topic: topic, key: Array(key.utf8), value: value))
    }

    func publish(_ family: TestFamily) async throws {
        for record in family.records { try await publish("registry.persons", key: record.key, value: record.value) }
    }

    func publishBranches() async throws {
        for branch in testBranches { try await publish("bank.branches", key: branch.key, value: try CardJSON.encodeBytes(branch)) }
    }

    /// Starts the feeder and waits until the views are loaded.
    func startFeeding() async throws {
        let feeder = self.feeder
        feeding = Task { try await feeder.run() }
        let deadline = ContinuousClock.now + .seconds(30)
        while !views.isLoaded && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(views.isLoaded, "views did not load within 30 s")
    }

    /// Waits until `condition` holds or 20 s pass.
    func eventually(_ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(20)
        while !condition() && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        return condition()
    }

    func test<Value>(now: @escaping @Sendable () -> Date = { fixedNow }, _ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        let router = GatewayRoutes.router(configuration: GatewayConfiguration(keys: TestKeys.all), views: views,
                                          publisher: KafkaSubmissionPublisher(producer: producer), now: now)
        return try await Application(router: router, logger: logger).test(.router, body)
    }

    deinit { feeding?.cancel() }
}

@Suite("The gateway over the embedded broker", .serialized, .timeLimit(.minutes(3)))
struct GatewayKafkaTests {
    @Test("views kept from registry.persons, bank.branches and card.submission; a submission lands keyed and on the contract partition; statuses from card.status")
    func viewsPublishingAndStatus() async throws {
        let kafka = try KafkaGateway()
        let applying = TestFamily(serial: 40), alreadyApplied = TestFamily(serial: 41)
        try await kafka.publish(applying)
        try await kafka.publish(alreadyApplied)
        try await kafka.publishBranches()
        // Another portal published straight to Kafka, the way `fleet submit` does.
        try await kafka.publish("card.submission", key: alreadyApplied.child.idNumber,
                                value: Array(alreadyApplied.submission(id: "mins-direct-1", channel: "minsheng").utf8))
        try await kafka.startFeeding()
        #expect(kafka.views.counts.persons == 4)
        #expect(kafka.views.counts.branches == testBranches.count)
        #expect(kafka.views.counts.applications == 1)

        try await kafka.test { client in
            let eligible = try await client.call(.post, "/v1/eligibility", body: applying.eligibilityBody())
            #expect(eligible.json?["eligible"] == true)
            #expect(eligible.json?["relationship"]?["label"] == "母子")
            #expect(try await client.call(.post, "/v1/eligibility", body: alreadyApplied.eligibilityBody()).reasonCodes == ["DUPLICATE_ACTIVE_APPLICATION"])
            #expect(try await client.call(.get, "/v1/branches?bank=BOB&district=110108").json?["branches"]?.arrayValue?.count == 1)
            // The other portal's application is not this portal's to see.
            #expect(try await client.call(.get, "/v1/applications/mins-direct-1").status == .notFound)
            #expect(try await client.call(.get, "/v1/applications/mins-direct-1", key: TestKeys.minsheng).status == .ok)

            let accepted = try await client.call(.post, "/v1/submissions", body: applying.submission(id: "web-kafka-1"))
            #expect(accepted.status == .accepted)
            #expect(try await client.call(.post, "/v1/eligibility", body: applying.eligibilityBody()).reasonCodes == ["DUPLICATE_ACTIVE_APPLICATION"])

            let tag = try #require(try await client.call(.get, "/v1/applications/web-kafka-1").headers[.eTag])
            async let next = client.call(.get, "/v1/applications/web-kafka-1?wait=15", headers: [.ifNoneMatch: tag])
            let received = StatusEvent(applicationID: "web-kafka-1", status: .received, at: Timestamp(fixedNow), seq: 1)
            try await kafka.publish("card.status", key: "web-kafka-1", value: try CardJSON.encodeBytes(received))
            let answer = try await next
            #expect(answer.status == .ok)
            #expect(answer.json?["status"] == "received")
        }

        // What the gateway published: keyed by the child's number, on the partition murmur2 gives that key.
        let reader = try TopicReader(bootstrapServers: kafka.cluster.bootstrapServers)
        try reader.start(["card.submission"])
        let records = reader.read(timeout: .seconds(10)) { messages in
            messages.contains { JSONValue(parsing: $0.value ?? [])?["submission_id"] == "web-kafka-1" }
        }.messages.filter { JSONValue(parsing: $0.value ?? [])?["submission_id"] == "web-kafka-1" }
        #expect(records.count == 1)
        let record = try #require(records.first)
        let key = Array(applying.child.idNumber.utf8)
        #expect(record.key == key)
        let partitions = try #require(kafka.counts["card.submission"])
        #expect(record.partition == KafkaPartitioner.fleetDefault.partition(forKey: key, partitionCount: partitions))
        #expect(JSONValue(parsing: record.value ?? [])?["channel"] == "hrss_web")
        // The feeder read it back and agrees with the claim: the same body is still the same answer.
        #expect(try await kafka.eventually { kafka.views.counts.applications == 2 })
    }

    @Test("through the real pipeline: a portal's submission via the gateway reaches in_production, and the status endpoint shows every step")
    func throughThePipeline() async throws {
        let kafka = try KafkaGateway()
        let family = TestFamily(serial: 42)
        try await kafka.publish(family)
        try await kafka.publishBranches()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("gateway-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var workers: [ChildProcess] = []
        defer { workers.forEach { $0.signal(SIGKILL) } }
        for name in ["intake", "identity", "routing", "production"] {
            workers.append(try ChildProcess(
                name: name, executable: BuildProducts.executable("\(name)-worker"),
                arguments: ["--brokers", kafka.cluster.bootstrapServers, "--state-dir", directory.appendingPathComponent("state/\(name)").path,
                            "--kafka-property", "session.timeout.ms=3000", "--kafka-property", "heartbeat.interval.ms=300"],
                logFile: directory.appendingPathComponent("\(name).log")))
        }
        try await kafka.startFeeding()
        // The workers judge ages from submitted_at; the gateway's rules use the same day.
        try await kafka.test(now: { Date() }) { client in
            let body = family.submission(id: "jt-e2e-1").replacingOccurrences(of: Timestamp(fixedNow).description, with: Timestamp(Date()).description)
            #expect(try await client.call(.post, "/v1/submissions", key: TestKeys.jingtong, body: body).status == .accepted)
            var tag = "\"0-0\""
            var seen: [String] = []
            let deadline = ContinuousClock.now + .seconds(90)
            while !seen.contains("in_production") && !seen.contains("rejected") && ContinuousClock.now < deadline {
                let response = try await client.call(.get, "/v1/applications/jt-e2e-1?wait=10", key: TestKeys.jingtong, headers: [.ifNoneMatch: tag])
                if response.status == .ok {
                    tag = response.headers[.eTag] ?? tag
                    seen = response.json?["statuses"]?.arrayValue?.compactMap { $0["status"]?.stringValue } ?? []
                }
            }
            #expect(seen == ["received", "identity_verified", "routed", "in_production"], "statuses seen: \(seen)")
            let final = try await client.call(.get, "/v1/applications/jt-e2e-1", key: TestKeys.jingtong)
            #expect(final.json?["statuses"]?[1]?["relationship_label"] == "母子")
            #expect(final.json?["statuses"]?[3]?["due_by"] != nil)
            // Now the child is stopped at 资格校验 on every channel.
            #expect(try await client.call(.post, "/v1/eligibility", key: TestKeys.minsheng, body: family.eligibilityBody()).reasonCodes
                    == ["DUPLICATE_ACTIVE_APPLICATION"])
        }
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { _ = await worker.waitAsync(timeout: .seconds(30)) }
    }
}
