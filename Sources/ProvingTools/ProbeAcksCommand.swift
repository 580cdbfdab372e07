import ArgumentParser
import FleetSupport
import Foundation
import Kafka
import Logging
import Synchronization

/// `fleet probe-acks` (hidden): does the embedded broker keep every message it acknowledged while
/// one kind of broker fault is injected? One producer, one topic, no workers: the smallest setup
/// in which `fleet chaos` lost acknowledged messages.
package struct ProbeAcksCommand: ParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "probe-acks", abstract: "Count acknowledged messages the embedded broker did not keep, under one fault kind.",
        shouldDisplay: false)

    enum FaultKind: String, ExpressibleByArgument, CaseIterable {
        case none, produceErrors = "produce-errors", brokerDown = "broker-down", coordinatorMove = "coordinator-move"
    }

    @Option(help: "Fault to inject: none, produce-errors, broker-down, coordinator-move.") var fault: FaultKind = .produceErrors
    @Option(help: "Seconds of producing.") var seconds = 40.0
    @Option(help: "Messages per second.") var rate = 4000.0
    @Option(help: "Seconds between faults.") var faultEvery = 3.0
    @Option(help: "Message value size in bytes.") var size = 200
    @Option(help: "Partitions of the probe topic.") var partitions: Int32 = 24
    @Option(parsing: .singleValue, help: "Extra producer property key=value (repeatable).") var property: [String] = []

    package init() {}

    package func run() throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .critical
            return handler
        }
        let logger = Logger(label: "card.probe")
        let cluster = try EmbeddedCluster(brokers: 3, logger: logger)
        try cluster.createTopic(TopicSpec(name: "probe", partitions: partitions))
        var client = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: "probe")
        for item in property {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            if parts.count == 2 { client.extraProperties[parts[0]] = parts[1] }
        }
        var configuration = KafkaProducerConfiguration(client: client)
        configuration.messageTimeout = .seconds(15)
        let producer = try KafkaProducer(configuration: configuration, logger: logger)
        let acked = Mutex<Set<Int>>([]), failed = Mutex<Set<Int>>([])

        let start = ContinuousClock.now
        var sent = 0, faults = 0, down: (Int32, ContinuousClock.Instant)?
        var nextFault = start + .milliseconds(Int64(faultEvery * 1000))
        let padding = [UInt8](repeating: UInt8(ascii: "x"), count: max(0, size - 12))
        while (ContinuousClock.now - start).seconds < seconds {
            let due = Int((ContinuousClock.now - start).seconds * rate)
            while sent < due {
                let id = sent
                let record = ProducerRecord(topic: "probe", key: Array("k\(id)".utf8), value: Array("m\(id);".utf8) + padding)
                try producer.enqueue(record) { error in
                    if error == nil { acked.withLock { _ = $0.insert(id) } } else { failed.withLock { _ = $0.insert(id) } }
                }
                sent += 1
            }
            let now = ContinuousClock.now
            if let (broker, upAt) = down, now >= upAt { cluster.setBrokerUp(broker); down = nil }
            if now >= nextFault {
                faults += 1
                switch fault {
                case .none: break
                case .produceErrors: cluster.failNextRequests(apiKey: 0, count: 20)
                case .brokerDown:
                    if down == nil {
                        let broker = Int32(1 + faults % 3)
                        cluster.setBrokerDown(broker)
                        down = (broker, now + .seconds(1))
                    }
                case .coordinatorMove: cluster.setCoordinator(group: "probe", brokerID: Int32(1 + faults % 3))
                }
                nextFault = now + .milliseconds(Int64(faultEvery * 1000))
            }
            usleep(2000)
        }
        if let (broker, _) = down { cluster.setBrokerUp(broker) }
        try? producer.flush(timeout: .seconds(60))

        let reader = try TopicReader(bootstrapServers: cluster.bootstrapServers, logger: logger)
        try reader.start(["probe"])
        var stored: [Int: Int] = [:]
        var readErrors = 0
        var quiet = ContinuousClock.now
        while (ContinuousClock.now - quiet).seconds < 3 {
            let result = reader.poll(timeout: .milliseconds(100))
            readErrors += result.errors.count
            if !result.messages.isEmpty { quiet = .now }
            for message in result.messages {
                let value = message.value ?? []
                guard let end = value.firstIndex(of: UInt8(ascii: ";")), let id = Int(String(decoding: value[1..<end], as: UTF8.self)) else { continue }
                stored[id, default: 0] += 1
            }
        }
        let ackedSet = acked.withLock { $0 }, failedSet = failed.withLock { $0 }
        let missing = ackedSet.filter { stored[$0] == nil }.sorted()
        Terminal.say("probe-acks: fault \(fault.rawValue) ×\(faults); sent \(sent), acked \(ackedSet.count), failed \(failedSet.count), unreported \(sent - ackedSet.count - failedSet.count)")
        Terminal.say("stored \(stored.count) distinct (\(stored.values.filter { $0 > 1 }.count) stored more than once), read errors \(readErrors)")
        Terminal.say("ACKED BUT NOT STORED: \(missing.count)\(missing.isEmpty ? "" : ", e.g. \(missing.prefix(10))")")
        if !missing.isEmpty { throw ExitCode.failure }
    }
}
