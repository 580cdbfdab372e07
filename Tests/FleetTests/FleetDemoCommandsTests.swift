import CardDomain
@testable import DemoWorld
@testable import OperatorViews
import FleetSupport
import Foundation
import JSONCodec
import Kafka
import Logging
import Testing
import WorkerRuntime

/// `fleet seed`, `submit`, `bank --once` and `status`, run as the real executable against an embedded cluster.
@Suite("fleet demo commands against the embedded broker", .timeLimit(.minutes(3)))
struct FleetDemoCommandsTests {
    let logger = Logger(label: "test.fleet-demo")

    /// An embedded cluster with every topic of Topics/.
    func cluster() throws -> EmbeddedCluster {
        let cluster = try EmbeddedCluster(logger: logger)
        for spec in try TopicCatalog.load(from: FleetTestSupport.topicsDirectory) { try cluster.createTopic(spec) }
        return cluster
    }

    /// Runs `fleet <arguments>` to completion; returns its exit status and output (stdout and stderr).
    func fleet(_ arguments: [String], timeout: Duration = .seconds(90)) async throws -> (status: Int32?, output: String) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let child = try ChildProcess(name: "fleet", executable: BuildProducts.executable("fleet"), arguments: arguments, logFile: log)
        let status = await child.waitAsync(timeout: timeout)
        if status == nil { child.signal(SIGKILL) }
        return (status, readGrowingTextFile(log))
    }

    /// Every message of `topics` until `count` have arrived (or 30 s pass).
    func read(_ topics: [String], from cluster: EmbeddedCluster, count: Int) async throws -> [ConsumedMessage] {
        let servers = cluster.bootstrapServers
        return try await OffPool.run("test-read") {
            let reader = try TopicReader(bootstrapServers: servers)
            try reader.start(topics)
            return reader.read(timeout: .seconds(30)) { $0.count >= count }.messages
        }
    }

    func publish(_ records: [ProducerRecord], to cluster: EmbeddedCluster) async throws {
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers)),
                                         logger: logger)
        let errors = await producer.send(records).compactMap { $0 }
        #expect(errors.isEmpty)
    }

    /// With stdout a file (as under systemd, nohup or a CI log), a line must be written when it
    /// is said, not when the process ends: Swift's `print` is fully buffered off a terminal, and
    /// `fleet up` once held its banner until shutdown.
    @Test("fleet broker's banner reaches a log file while the broker is still running")
    func bannerWhileRunning() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-banner-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let log = folder.appendingPathComponent("broker.log")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let child = try ChildProcess(name: "fleet broker", executable: BuildProducts.executable("fleet"),
                                     arguments: ["broker", "--run-dir", folder.path, "--topic", "banner.test:1"], logFile: log)
        let deadline = ContinuousClock.now + .seconds(30)
        var banner = false
        while !banner, child.isRunning, ContinuousClock.now < deadline {
            banner = readGrowingTextFile(log).contains("embedded broker listening on ")
            if !banner { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(banner && child.isRunning, "banner written before exit: \(readGrowingTextFile(log))")
        child.signal(SIGTERM)
        #expect(await child.waitAsync(timeout: .seconds(20)) == 0)
    }

    @Test("fleet seed publishes every person of N families keyed by id_number, and every branch keyed bank/branch")
    func seed() async throws {
        let cluster = try cluster()
        let run = try await fleet(["seed", "--brokers", cluster.bootstrapServers, "--families", "40"])
        #expect(run.status == 0, "\(run.output)")
        let families = (0..<40).map(DemoFamilies.family)
        let people = families.flatMap(\.members)
        let persons = try await read(["registry.persons"], from: cluster, count: people.count)
        #expect(persons.count == people.count)
        for message in persons {
            let record = try CardJSON.decode(RegistryPerson.self, from: message.value ?? [])
            #expect(message.key == Array(record.idNumber.utf8))
        }
        let decoded = try Set(persons.map { try CardJSON.decode(RegistryPerson.self, from: $0.value ?? []) })
        #expect(decoded == Set(people.map(\.record)))

        let branches = try await read(["bank.branches"], from: cluster, count: DemoBranches.all.count)
        #expect(branches.count == DemoBranches.all.count)
        for message in branches {
            let branch = try CardJSON.decode(Branch.self, from: message.value ?? [])
            #expect(message.key == Array(branch.key.utf8))
        }
        #expect(run.output.contains("registry.persons: \(people.count) person(s)"))
    }

    @Test("fleet submit --generate publishes N submissions keyed by the applicant's id_number; FILE mode sends non-objects too")
    func submit() async throws {
        let cluster = try cluster()
        let run = try await fleet(["submit", "--brokers", cluster.bootstrapServers, "--generate", "25", "--seed", "7", "--run-id", "t7"])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("sent 25 submission(s)"))
        #expect(run.output.contains("by expected outcome"))
        let messages = try await read(["card.submission"], from: cluster, count: 25)
        #expect(messages.count == 25)
        for message in messages {
            let value = try #require(JSONValue(parsing: message.value ?? []))
            #expect(message.key == Array((value["applicant"]?["id_number"]?.stringValue ?? "-").utf8))
            #expect(value["submission_id"]?.stringValue?.contains("-t7-") == true)
        }
        let generator = SubmissionGenerator(options: .init(families: 2000, invalidShare: 0.1, lateShare: 0.03, seed: 7, runID: "t7"))
        let expectedIDs = Set((0..<25).map { generator.make($0, at: .now()).submissionID })
        #expect(Set(messages.compactMap { JSONValue(parsing: $0.value ?? [])?["submission_id"]?.stringValue }) == expectedIDs)

        let file = FileManager.default.temporaryDirectory.appendingPathComponent("submissions-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(#"[{"submission_id":"web-file-1","applicant":{"id_number":"110105201503070013"}}, [1, 2]]"#.utf8).write(to: file)
        let fileRun = try await fleet(["submit", "--brokers", cluster.bootstrapServers, file.path])
        #expect(fileRun.status == 0, "\(fileRun.output)")
        #expect(fileRun.output.contains("submission_id=web-file-1 key=110105********0013"))
        #expect(!fileRun.output.contains("110105201503070013"), "the key is masked in the output")
        let all = try await read(["card.submission"], from: cluster, count: 27)
        #expect(all.count == 27)
        #expect(all.contains { $0.value == Array("[1,2]".utf8) && $0.key == nil })
    }

    @Test("fleet bank --once answers a waiting order with accepted, produced, at_branch, picked_up, then nothing more")
    func bankOnce() async throws {
        let cluster = try cluster()
        let submission = try #require(IntakeValidator.validate(
            SubmissionGeneratorTests.generate(1, invalid: 0, late: 0, seed: 31)[0].bytes).parsed?.accepted)
        let order = CardOrder(submission: submission, orderedAt: .now())
        try await publish([ProducerRecord(topic: "card.orders", key: Array(order.bank.rawValue.utf8), value: Array(try CardJSON.encode(order)))],
                          to: cluster)

        let run = try await fleet(["bank", "--once", "--brokers", cluster.bootstrapServers])
        #expect(run.status == 0, "\(run.output)")
        #expect(run.output.contains("answered 1 order(s) with 4 bank event(s)"), "\(run.output)")
        let messages = try await read(["card.bank-events"], from: cluster, count: 4)
        let events = try messages.map { try CardJSON.decode(BankEvent.self, from: $0.value ?? []) }
        #expect(events.map(\.event) == [.accepted, .produced, .atBranch, .pickedUp])
        #expect(events.allSatisfy { $0.applicationID == order.applicationID && $0.orderID == order.orderID })
        #expect(messages.allSatisfy { $0.key == Array(order.applicationID.utf8) })
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.at < $1.at })

        // Committed: a second run finds nothing waiting.
        let again = try await fleet(["bank", "--once", "--brokers", cluster.bootstrapServers])
        #expect(again.status == 0, "\(again.output)")
        #expect(again.output.contains("answered 0 order(s)"), "\(again.output)")
    }

    @Test("fleet bank (running) answers orders over time, a failing share with failed, and stops cleanly on SIGINT")
    func bankRunning() async throws {
        let cluster = try cluster()
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-bank-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let bank = try ChildProcess(name: "fleet bank", executable: BuildProducts.executable("fleet"),
                                    arguments: ["bank", "--brokers", cluster.bootstrapServers, "--speed", "20", "--fail-share", "0.5"],
                                    logFile: log)
        defer { bank.signal(SIGKILL) }
        let orders = (1...6).map { n in OrderReference(applicationID: "web-20261125-bank-00000\(n)", orderID: "ORD-web-20261125-bank-00000\(n)") }
        try await publish(orders.map { order in
            ProducerRecord(topic: "card.orders", key: Array("BOB".utf8),
                           value: Array(#"{"application_id":"\#(order.applicationID)","order_id":"\#(order.orderID)"}"#.utf8))
        }, to: cluster)
        let script = BankScript(speed: 20, failShare: 0.5)
        let expectedCount = orders.map { script.events(for: $0).count }.reduce(0, +)
        let messages = try await read(["card.bank-events"], from: cluster, count: expectedCount)
        let events = try messages.map { try CardJSON.decode(BankEvent.self, from: $0.value ?? []) }
        for order in orders {
            let mine = events.filter { $0.applicationID == order.applicationID }
            #expect(mine.map(\.event) == script.events(for: order), "\(order.applicationID)")
            #expect(zip(mine, mine.dropFirst()).allSatisfy { $0.at < $1.at })
            if mine.last?.event == .failed { #expect(mine.last?.reason?.isEmpty == false) }
        }
        #expect(orders.contains { script.fails($0) } && orders.contains { !script.fails($0) }, "both paths exercised")
        bank.signal(SIGINT)
        #expect(await bank.waitAsync(timeout: .seconds(20)) == 0)
        let output = readGrowingTextFile(log)
        #expect(output.contains("bank simulator stopped: \(expectedCount) event(s) delivered"), "\(output)")
    }

    @Test("fleet status prints an application's statuses in seq order with bank events interleaved; unknown is exit 1")
    func status() async throws {
        let cluster = try cluster()
        let app = "web-20261125-st-000001"
        let t0 = try #require(Timestamp(rfc3339: "2026-11-25T02:15:00Z"))
        let statuses = [
            StatusEvent(applicationID: app, status: .routed, relationshipLabel: .motherSon, bank: .bob, branch: "BOB-0105-01",
                        at: t0.adding(seconds: 2), seq: 3),
            StatusEvent(applicationID: app, status: .received, at: t0, seq: 1),
            StatusEvent(applicationID: app, status: .identityVerified, relationshipLabel: .motherSon, at: t0.adding(seconds: 1), seq: 2),
            StatusEvent(applicationID: app, status: .inProduction, bank: .bob, branch: "BOB-0105-01",
                        dueBy: t0.adding(days: 30), at: t0.adding(seconds: 3), seq: 4),
            StatusEvent(applicationID: app, status: .readyForPickup, bank: .bob, branch: "BOB-0105-01", eCard: true,
                        at: t0.adding(seconds: 20), seq: 5),
            StatusEvent(applicationID: "other-app", status: .rejected, reasons: [Reason(code: .bankUnknown, field: "card.bank")],
                        at: t0, seq: 1),
        ]
        let bankEvents = [
            BankEvent(applicationID: app, orderID: "ORD-" + app, event: .accepted, at: t0.adding(seconds: 5)),
            BankEvent(applicationID: app, orderID: "ORD-" + app, event: .atBranch, at: t0.adding(seconds: 19)),
        ]
        try await publish(statuses.map { ProducerRecord(topic: "card.status", key: Array($0.applicationID.utf8), value: Array(try CardJSON.encode($0))) }
            + bankEvents.map { ProducerRecord(topic: "card.bank-events", key: Array($0.applicationID.utf8), value: Array(try CardJSON.encode($0))) },
            to: cluster)

        let run = try await fleet(["status", app, "--brokers", cluster.bootstrapServers])
        #expect(run.status == 0, "\(run.output)")
        let steps = ["received", "identity_verified", "routed", "in_production", "bank accepted", "bank at_branch", "ready_for_pickup"]
        // The table, after the header line (which names the current status).
        let table = String(run.output.drop { $0 != "\n" })
        let positions = steps.map { table.range(of: $0)?.lowerBound }
        #expect(positions.allSatisfy { $0 != nil }, "\(run.output)")
        #expect(positions.compactMap { $0 } == positions.compactMap { $0 }.sorted(), "\(run.output)")
        #expect(run.output.contains("2026-11-25 10:15:00.000"), "Beijing time: \(run.output)")
        #expect(run.output.contains("relationship 母子") && run.output.contains("branch BOB-0105-01") && run.output.contains("e_card true"))
        #expect(run.output.contains("due by 2026-12-25 10:15:00.000"))
        #expect(run.output.contains("+14.000s"), "time between bank accepted and at_branch: \(run.output)")
        #expect(!run.output.contains("BANK_UNKNOWN"), "another application's status leaked in")

        let json = try await fleet(["status", app, "--json", "--brokers", cluster.bootstrapServers])
        #expect(json.status == 0, "\(json.output)")
        let tree = try #require(JSONValue(parsing: Array(json.output.utf8)))
        let timeline = try #require(tree["timeline"]?.arrayValue)
        #expect(timeline.compactMap { $0["seq"]?.integerValue } == [1, 2, 3, 4, 5])
        #expect(timeline.count == 7)
        #expect(tree["status"] == "ready_for_pickup")

        let unknown = try await fleet(["status", "no-such-application", "--brokers", cluster.bootstrapServers])
        #expect(unknown.status == 1)
        #expect(unknown.output.contains("unknown application no-such-application"))
    }
}

@Suite("Application history")
struct ApplicationHistoryTests {
    @Test("statuses keep seq order, duplicates collapse, bank events interleave by time, gaps are noted")
    func merge() throws {
        let t0 = try #require(Timestamp(rfc3339: "2026-11-25T10:00:00+08:00"))
        let statuses = [
            StatusEvent(applicationID: "a", status: .inProduction, at: t0.adding(seconds: 3), seq: 4),
            StatusEvent(applicationID: "a", status: .received, at: t0, seq: 1),
            StatusEvent(applicationID: "a", status: .received, at: t0, seq: 1),
            StatusEvent(applicationID: "a", status: .failed, reasons: [.bankProductionFailed()], at: t0.adding(seconds: 9), seq: 5),
        ]
        let bank = [
            BankEvent(applicationID: "a", orderID: "ORD-a", event: .failed, reason: "芯片写入失败", at: t0.adding(seconds: 8)),
            BankEvent(applicationID: "a", orderID: "ORD-a", event: .accepted, at: t0.adding(seconds: 4)),
            BankEvent(applicationID: "b", orderID: "ORD-b", event: .accepted, at: t0),
        ]
        let history = try #require(ApplicationHistory(applicationID: "a", statuses: statuses, bankEvents: bank))
        #expect(history.statuses.map(\.seq) == [1, 4, 5])
        #expect(history.missingSeqs == [2, 3])
        #expect(history.currentStatus == .failed)
        let kinds = history.timeline.map { step -> String in
            switch step {
            case .status(let event): event.status.rawValue
            case .bank(let event): "bank " + event.event.rawValue
            }
        }
        #expect(kinds == ["received", "in_production", "bank accepted", "bank failed", "failed"])
        let text = history.render()
        #expect(text.contains("BANK_PRODUCTION_FAILED (card.bank)"))
        #expect(text.contains("reason: 芯片写入失败"))
        #expect(text.contains("seq 2, 3 not found"))
        #expect(ApplicationHistory(applicationID: "zzz", statuses: statuses, bankEvents: bank) == nil)
    }

    @Test("durations read naturally")
    func durations() {
        #expect(ApplicationHistory.duration(0.3333) == "0.333s")
        #expect(ApplicationHistory.duration(192) == "3m 12s")
        #expect(ApplicationHistory.duration(7500) == "2h 05m")
        #expect(ApplicationHistory.duration(3 * 86_400 + 4 * 3600) == "3d 4h")
    }
}

extension Timestamp {
    func adding(seconds: Double) -> Timestamp {
        Timestamp(secondsSinceEpoch: secondsSinceEpoch + seconds, utcOffsetSeconds: utcOffsetSeconds)
    }
}
