import Foundation
@testable import Kafka
import Logging
import Testing

/// Admin clients with one configuration share one librdkafka handle while any of them lives: each
/// handle's threads wake on their timers even when nothing is asked, and a worker made five.
@Suite("Kafka: admin clients share a handle", .timeLimit(.minutes(2)))
struct SharedAdminTests {
    let logger = Logger(label: "test.kafka.admin")

    @Test("same configuration: one handle, used from two threads at once; another client.id: its own")
    func sharedWhileAlive() async throws {
        let cluster = try EmbeddedCluster(logger: logger)
        try cluster.createTopic(TopicSpec(name: "shared", partitions: 4))
        let config = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers)
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: config), logger: logger)
        let records = (Int32(0)..<4).flatMap { p in
            (0...p).map { _ in ProducerRecord(topic: "shared", partition: p, key: nil, value: Array("x".utf8)) }
        }
        #expect(await producer.send(records).allSatisfy { $0 == nil })
        let first = try KafkaAdmin(configuration: config, logger: logger)
        let second = try KafkaAdmin(configuration: config, logger: logger)
        #expect(first.client === second.client)
        let other = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: "other"),
                                   logger: logger)
        #expect(other.client !== first.client)

        // Each call has its own result queue: concurrent callers of the shared handle get their own answers.
        let answers = await withTaskGroup(of: (Int32, Int64).self) { group in
            for partition in Int32(0)..<4 {
                let admin = partition.isMultiple(of: 2) ? first : second
                group.addTask {
                    let marks = try? admin.watermarks(topic: "shared", partition: partition, timeout: .seconds(20))
                    return (partition, marks?.high ?? -1)
                }
            }
            return await group.reduce(into: [Int32: Int64]()) { $0[$1.0] = $1.1 }
        }
        #expect(answers == [0: 1, 1: 2, 2: 3, 3: 4], "each caller got its own partition's answer")
    }

    @Test("the handle is destroyed when the last admin using it goes")
    func destroyedWithTheLast() throws {
        let config = KafkaClientConfiguration(bootstrapServers: "127.0.0.1:9", clientID: "shared-admin-lifetime")
        weak var handle: RDKafkaClient?
        do {
            let first = try KafkaAdmin(configuration: config, logger: logger)
            handle = first.client
            do {
                let second = try KafkaAdmin(configuration: config, logger: logger)
                #expect(second.client === handle)
            }
            #expect(handle != nil, "the first admin still uses it")
            withExtendedLifetime(first) {}
        }
        #expect(handle == nil)
    }
}
