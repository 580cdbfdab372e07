import CardDomain
import Foundation
import FleetSupport
import JSONCodec
import Kafka
import Logging
import Testing
import WorkerRuntime

/// Portals and banks write the fleet's input topics with whatever Kafka client they run (Java, kafkajs,
/// Sarama hash keys with murmur2; librdkafka with CRC32), with or without the contract's key, and with
/// whatever headers their adapters copy. The workers take those records as input, never as trust.
@Suite("Outside clients: partitioners, keys and headers", .serialized, .timeLimit(.minutes(4)))
struct OutsideClientTests {
    let logger = Logger(label: "test.outside")

    /// The first `prefix-N` whose partition differs under murmur2 and CRC32, so a test over it tells them apart.
    static func splitKey(_ prefix: String, partitions: Int32 = 24) -> String {
        (0...).lazy.map { "\(prefix)-\($0)" }.first { key in
            KafkaPartitioner.murmur2Random.partition(forKey: Array(key.utf8), partitionCount: partitions)
                != KafkaPartitioner.consistentRandom.partition(forKey: Array(key.utf8), partitionCount: partitions)
        }!
    }

    static func partition(_ key: String, _ partitioner: KafkaPartitioner = .murmur2Random) -> Int32 {
        partitioner.partition(forKey: Array(key.utf8), partitionCount: 24)
    }

    @Test("Python confluent-kafka with partitioner=murmur2_random puts keys where KafkaPartitioner.murmur2Random says; consistent_random where CRC32 says")
    func placementMatchesOtherClient() async throws {
        let cluster = try EmbeddedCluster(logger: logger)
        try cluster.createTopic(TopicSpec(name: "placement", partitions: 24))
        let keys = ["110105201503070013", "web-20261125-000123", "b2-03-hdr-001", "21", "abc"] + (0..<15).map { "k\($0)" }
        for partitioner in [KafkaPartitioner.murmur2Random, .consistentRandom] {
            let placed = try OutsideProducer.send(keys.map { .init(value: "v", key: $0) }, topic: "placement",
                                                  bootstrap: cluster.bootstrapServers, partitioner: partitioner.rawValue)
            #expect(placed.map(\.partition) == keys.map { partitioner.partition(forKey: Array($0.utf8), partitionCount: 24) },
                    "\(partitioner.rawValue)")
        }
    }

    @Test("bank events from a Java-style client, a librdkafka-default client and an adapter copying the order's card-message-id are all applied")
    func bankEventsFromAnyClient() async throws {
        let fleet = try PipelineHarness(registryGraceSeconds: 30)
        let families = (30...32).map { Family($0) }
        for branch in DemoBranches.all {
            try await fleet.publish("bank.branches", key: Branch.key(bank: branch.bank, branch: branch.branch), json: branch)
        }
        for family in families {
            for person in [family.mother, family.child] { try await fleet.publish("registry.persons", key: person.idNumber, json: person) }
        }
        // Application ids that murmur2 and CRC32 put on different partitions of card.bank-events.
        let murmur = Self.splitKey("ow02-murmur"), crc = Self.splitKey("ow02-crc"), copied = Self.splitKey("ow03-hdr")
        for (family, id) in zip(families, [murmur, crc, copied]) {
            try await fleet.submit(family.submission(id: id), applicantID: family.child.idNumber)
        }
        var orderIDs: [String: String] = [:]
        for id in [murmur, crc, copied] {
            await fleet.waitForStatus(id, .inProduction)
            orderIDs[id] = try #require(fleet.orders(id).first?.order.orderID, "order for \(id)")
        }
        func events(_ id: String, headers: [String: String]? = nil) throws -> [OutsideProducer.Record] {
            try ["accepted", "produced", "at_branch", "picked_up"].map { event in
                let value = try CardJSON.encode(BankEvent(applicationID: id, orderID: orderIDs[id]!, event: BankEvent.Kind(rawValue: event)!,
                                                          at: Timestamp(Date())))
                return .init(value: String(decoding: value, as: UTF8.self), key: id, headers: headers)
            }
        }
        // ow-02: a bank on the Java client (murmur2); another on librdkafka's default (CRC32).
        let javaPlaced = try OutsideProducer.send(try events(murmur), topic: "card.bank-events", bootstrap: fleet.cluster.bootstrapServers)
        #expect(Set(javaPlaced.map(\.partition)) == [Self.partition(murmur)])
        let crcPlaced = try OutsideProducer.send(try events(crc), topic: "card.bank-events", bootstrap: fleet.cluster.bootstrapServers,
                                                 partitioner: "consistent_random")
        #expect(Set(crcPlaced.map(\.partition)) == [Self.partition(crc, .consistentRandom)])
        // ow-03: an adapter that copies the order's card-message-id onto every event.
        _ = try OutsideProducer.send(try events(copied, headers: ["card-message-id": "\(copied)/order"]), topic: "card.bank-events",
                                     bootstrap: fleet.cluster.bootstrapServers)

        for id in [murmur, crc, copied] {
            await fleet.waitForStatus(id, .pickedUp, timeout: .seconds(30))
        }
        await fleet.settle()
        for id in [murmur, crc, copied] {
            let statuses = fleet.statuses(id)
            #expect(statuses.map(\.status) == [.received, .identityVerified, .routed, .inProduction, .readyForPickup, .pickedUp], "\(id)")
            #expect(statuses.first { $0.status == .readyForPickup }?.eCard == true)
        }
        let unknownOrders = fleet.deadLetters().filter { $0.error.contains("unknown order") }
        #expect(unknownOrders.isEmpty, "dead letters: \(unknownOrders.map(\.error))")
        let productionLog = fleet.logs()["production"] ?? ""
        #expect(productionLog.contains("re-keyed"), "the CRC32-placed events were re-keyed, with a warning")
        _ = await fleet.stop()
    }

    @Test("submissions from a Java-style portal, unkeyed and mis-keyed: the closure frees the child; one application per child holds")
    func submissionsFromAnyClient() async throws {
        let fleet = try PipelineHarness(registryGraceSeconds: 3)
        let bootstrap = fleet.cluster.bootstrapServers
        for branch in DemoBranches.all {
            try await fleet.publish("bank.branches", key: Branch.key(bank: branch.bank, branch: branch.branch), json: branch)
        }
        // A child whose id number murmur2 and CRC32 put on different partitions; and one in the registry.
        let unregistered = try #require((40...80).lazy.map { Family($0) }.first { Self.partition($0.child.idNumber) != Self.partition($0.child.idNumber, .consistentRandom) })
        let registered = try #require((81...120).lazy.map { Family($0) }.first { Self.partition($0.child.idNumber) != Self.partition($0.child.idNumber, .consistentRandom) })
        for person in [registered.mother, registered.child] { try await fleet.publish("registry.persons", key: person.idNumber, json: person) }

        // ow-02b: a Java portal's submission (murmur2) is rejected later (nobody in the registry); the
        // fleet's card.application-closed must reach the partition that holds the child.
        let first = try OutsideProducer.send([.init(value: unregistered.submission(id: "ow02b-first"), key: unregistered.child.idNumber)],
                                             topic: "card.submission", bootstrap: bootstrap)
        #expect(first.map(\.partition) == [Self.partition(unregistered.child.idNumber)])

        // ow-07: received once through the contract's key, then the same again unkeyed on another
        // partition, then a second application for the same child under another key on a third.
        let child = registered.child.idNumber
        let home = Self.partition(child), crcHome = Self.partition(child, .consistentRandom)
        let elsewhere = (0..<24).map(Int32.init).filter { $0 != home && $0 != crcHome }
        let duplicate = registered.submission(id: "ow07-first")
        try await fleet.submit(duplicate, applicantID: child)
        await fleet.waitForStatus("ow07-first", .received)
        _ = try OutsideProducer.send([.init(value: duplicate, key: nil, partition: elsewhere[0])], topic: "card.submission", bootstrap: bootstrap)
        _ = try OutsideProducer.send([.init(value: registered.submission(id: "ow07-second"), key: "someone-else", partition: elsewhere[1])],
                                     topic: "card.submission", bootstrap: bootstrap)

        let second = await fleet.waitForStatus("ow07-second", .rejected, timeout: .seconds(30))
        #expect(second.count == 1 && second.first?.reasons.map(\.code) == [.duplicateActiveApplication], "\(second.map(\.status))")

        let rejected = await fleet.waitForStatus("ow02b-first", .rejected, timeout: .seconds(60))
        #expect(rejected.last?.reasons.contains { $0.code == .personNotFound } == true)
        await fleet.settle(.seconds(1))
        _ = try OutsideProducer.send([.init(value: unregistered.submission(id: "ow02b-second"), key: unregistered.child.idNumber)],
                                     topic: "card.submission", bootstrap: bootstrap)
        let again = await fleet.waitForStatus("ow02b-second", .received, timeout: .seconds(30))
        #expect(again.first?.status == .received, "the closure freed the child: \(again.map(\.status)) \(again.first?.reasons.map(\.code) ?? [])")

        await fleet.settle()
        #expect(fleet.statuses("ow07-first").filter { $0.status == .received }.count == 1, "the unkeyed copy changed nothing")
        let intakeLog = fleet.logs()["intake"] ?? ""
        #expect(intakeLog.contains("re-keyed"))
        for id in [child, unregistered.child.idNumber, registered.mother.idNumber] {
            #expect(!intakeLog.contains(id), "intake logged an unmasked ID number")
        }
        _ = await fleet.stop()
    }

    @Test("a worker whose key-joined input topics differ in partition count refuses to start, saying so")
    func copartitioningMismatchRefusesToStart() async throws {
        let cluster = try EmbeddedCluster(logger: logger)
        try cluster.createTopic(TopicSpec(name: "card.submission", partitions: 4))
        try cluster.createTopic(TopicSpec(name: "card.application-closed", partitions: 3))
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("copart-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("intake.log")
        let worker = try ChildProcess(name: "intake", executable: BuildProducts.executable("intake-worker"),
                                      arguments: ["--brokers", cluster.bootstrapServers, "--state-dir", directory.appendingPathComponent("state").path],
                                      logFile: log)
        let exit = await worker.waitAsync(timeout: .seconds(30))
        if exit == nil { worker.signal(SIGKILL) }
        #expect(exit != nil && exit != 0, "the worker must stop, with a failure status")
        let text = readGrowingTextFile(log)
        #expect(text.contains("co-partitioning") && text.contains("card.submission has 4") && text.contains("card.application-closed has 3"),
                "\(text.suffix(2000))")
    }
}
