import ArgumentParser
import FleetSupport
import Foundation
import Kafka
import WorkerRuntime

/// Who holds what: the newest membership record of every worker instance
/// (`card.worker-membership`, docs/state-changelog.md "Standbys"), with the partitions no live
/// instance keeps a standby copy of.
package struct MembersCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "members",
        abstract: "Show every worker instance: the partitions it owns, its standby copies and how far behind they are.",
        discussion: """
            Reads card.worker-membership from the start to its end (no consumer group) and prints, per worker type, \
            each instance's newest record: owned partitions, standby copies, records fetched but not applied, the \
            longest changelog-to-copy delay of its last heartbeat, and when it was last heard. An instance not heard \
            for 10 s is shown as gone; one that stopped gracefully is not shown. Ends with the partitions of each \
            worker type that no live instance keeps a copy of.
            """)

    @Option(help: "Bootstrap servers; default: the embedded broker's <run-dir>/bootstrap.") var brokers: String?
    @Option(help: "Run folder of the embedded broker.") var runDir = "run"
    @Flag(help: "Print the instances as JSON.") var json = false

    package init() {}

    package func run() async throws {
        let servers = try brokers ?? BrokerList.embedded(runDir: runDir)
        let (messages, counts) = try await OffPool.run("members-read") {
            let reader = try TopicReader(bootstrapServers: servers)
            return (try reader.readToEnd(Membership.topic, timeout: .seconds(30)), try reader.kafkaAdmin.topicPartitionCounts())
        }
        // Each worker type's partitions are its changelog's (co-partitioned with its input).
        let partitions = Dictionary(uniqueKeysWithValues: counts.compactMap { name, count -> (String, Int32)? in
            guard name.hasPrefix("card."), name.hasSuffix("-changelog") else { return nil }
            return (String(name.dropFirst("card.".count).dropLast("-changelog".count)), count)
        })
        let view = MembershipView(messages.map { ($0.key.map { String(decoding: $0, as: UTF8.self) } ?? "", Membership.decode($0.value), $0.value == nil, $0.timestampMilliseconds ?? 0) },
                                  nowMs: Int64(Date().timeIntervalSince1970 * 1000), partitionCounts: partitions)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            Terminal.say(String(decoding: try encoder.encode(view.instances), as: UTF8.self))
        } else {
            Terminal.say(view.render())
        }
    }
}

/// The newest record per instance, pure (tests build it from records).
package struct MembershipView: Sendable {
    package struct Instance: Codable, Sendable, Equatable {
        package var worker: String
        package var instance: String
        package var active: [Int32]
        package var standby: [Int32]
        /// Largest `standby_lag` over its copies, records.
        package var behindRecords: Int64
        package var delayMs: Int64?
        /// Seconds since its newest record (by the record's Kafka timestamp).
        package var heardSecondsAgo: Double
        /// Not heard for 10 s, or its timestamp is more than 10 s ahead of this clock (not believed).
        package var gone: Bool
    }

    package let instances: [Instance]
    /// Partitions per worker type (its changelog's count), when known: to find partitions nobody reports owning.
    package let partitionCounts: [String: Int32]

    /// - Parameter records: in offset order: key, decoded record (nil: not one), whether it is a tombstone, Kafka timestamp (ms).
    package init(_ records: [(key: String, record: Membership.Record?, tombstone: Bool, timestampMs: Int64)], nowMs: Int64,
                 partitionCounts: [String: Int32] = [:]) {
        self.partitionCounts = partitionCounts
        var newest: [String: Instance] = [:]
        for (key, record, tombstone, timestamp) in records {
            if tombstone { newest[key] = nil; continue }
            guard let record else { continue }
            let age = Double(nowMs - timestamp) / 1000
            newest[key] = Instance(worker: record.worker, instance: record.instance, active: record.active, standby: record.standby,
                                   behindRecords: record.standbyLag.values.max() ?? 0, delayMs: record.standbyDelayMs,
                                   heardSecondsAgo: age, gone: age > 10 || age < -10)
        }
        instances = newest.values.sorted { ($0.worker, $0.instance) < ($1.worker, $1.instance) }
    }

    /// Partitions of `worker` (as far as its live instances' records show them) that no live instance keeps a copy of.
    package func withoutCopy(worker: String) -> [Int32] {
        let live = instances.filter { $0.worker == worker && !$0.gone }
        let known = Set(live.flatMap { $0.active + $0.standby })
        let copied = Set(live.flatMap(\.standby))
        return known.subtracting(copied).sorted()
    }

    /// Partitions of `worker` that no live instance reports owning (a rebalance under way, or an
    /// instance that writes no record); empty when the partition count is unknown.
    package func withoutOwner(worker: String) -> [Int32] {
        guard let count = partitionCounts[worker] else { return [] }
        let owned = Set(instances.filter { $0.worker == worker && !$0.gone }.flatMap(\.active))
        return (0..<count).filter { !owned.contains($0) }
    }

    package func render() -> String {
        guard !instances.isEmpty else { return "no worker instance has written to \(Membership.topic) (standby copies off, or nothing running)" }
        func ranges(_ partitions: [Int32]) -> String {
            guard !partitions.isEmpty else { return "-" }
            var parts: [String] = []
            var start = partitions[0], previous = partitions[0]
            for p in partitions.dropFirst() + [Int32.max] {
                if p == previous + 1 { previous = p; continue }
                parts.append(start == previous ? "\(start)" : "\(start)-\(previous)")
                start = p
                previous = p
            }
            return parts.joined(separator: ",")
        }
        // Padded to a column, never cut: a long partition list pushes the rest of its line right.
        func pad(_ text: String, _ width: Int) -> String { text.count >= width ? text : text + String(repeating: " ", count: width - text.count) }
        var lines = ["worker      instance                  owns             standby copies   behind  delay    heard"]
        for i in instances {
            let heard = i.heardSecondsAgo < -10 ? "clock \(Int(-i.heardSecondsAgo)) s ahead (gone)"
                : String(format: "%.0f s ago", max(0, i.heardSecondsAgo)) + (i.gone ? " (gone)" : "")
            lines.append([pad(i.worker, 11), pad(i.instance, 25), pad(ranges(i.active), 16), pad(ranges(i.standby), 16),
                          pad(String(i.behindRecords), 7), pad(i.delayMs.map { "\($0) ms" } ?? "-", 8), heard].joined(separator: " "))
        }
        for worker in Set(instances.map(\.worker)).sorted() {
            guard instances.contains(where: { $0.worker == worker && !$0.gone }) else {
                lines.append("\(worker): no live instance")
                continue
            }
            let missing = withoutCopy(worker: worker)
            var line = "\(worker): " + (missing.isEmpty ? "every owned partition has a standby copy" : "no standby copy of partition(s) \(ranges(missing))")
            let unowned = withoutOwner(worker: worker)
            if !unowned.isEmpty { line += "; partition(s) \(ranges(unowned)) owned by no instance heard (a rebalance, or an instance that writes no record)" }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
