import Foundation
import Kafka

/// The membership topic: every worker instance says, every ``heartbeatInterval``, which input
/// partitions it holds and which it keeps standby copies of, so that every instance can place
/// standbys the same way (``StandbyPlacement``) without a custom assignor. It plays the part of the
/// subscription user data Kafka Streams' assignor shares (KIP-441): librdkafka 2.0.2 has no
/// custom assignor, and the embedded broker has no DescribeGroups. Contract addition
/// (docs/contract-additions.md); `Topics/changelog/card.worker-membership.json`.
public enum Membership {
    /// `card.worker-membership`: one partition, compacted, keyed `<worker>/<instance>`.
    public static let topic = "card.worker-membership"
    /// How often an instance publishes its record. 2 s.
    static let heartbeatInterval: Duration = .seconds(2)
    /// A record older than this (by its Kafka timestamp) is a gone instance. 10 s: five heartbeats,
    /// so a busy loop or a slow broker does not drop a live instance; a killed one stops counting
    /// for placement 10 s after its last word.
    static let expiry: Duration = .seconds(10)

    /// One instance's record (the value, JSON). A graceful stop writes a tombstone (null value).
    public struct Record: Codable, Sendable, Equatable {
        public var worker: String
        public var instance: String
        /// Input partitions held as the active owner, ascending.
        public var active: [Int32]
        /// Partitions kept as standby copies, ascending.
        public var standby: [Int32]
        /// Changelog records each standby copy is behind (partition number as text → records), at publishing.
        public var standbyLag: [String: Int64]
        /// ``Membership/heartbeatInterval`` in ms, so a reader knows when to expect the next.
        public var intervalMs: Int
        /// Longest time, in ms, between a changelog record's Kafka timestamp and its apply to a copy,
        /// over the records applied since the previous record (0: none applied; absent before it existed).
        public var standbyDelayMs: Int64?

        public init(worker: String, instance: String, active: [Int32], standby: [Int32], standbyLag: [String: Int64], intervalMs: Int,
                    standbyDelayMs: Int64?) {
            self.worker = worker
            self.instance = instance
            self.active = active
            self.standby = standby
            self.standbyLag = standbyLag
            self.intervalMs = intervalMs
            self.standbyDelayMs = standbyDelayMs
        }

        enum CodingKeys: String, CodingKey {
            case worker, instance, active, standby
            case standbyLag = "standby_lag"
            case intervalMs = "interval_ms"
            case standbyDelayMs = "standby_delay_ms"
        }
    }

    /// The record's key: `<worker>/<instance>`.
    static func key(worker: String, instance: String) -> [UInt8] { Array("\(worker)/\(instance)".utf8) }

    /// Decodes a record's value; `nil` for a tombstone or a value that is not a record (a foreign
    /// writer's: ignored, never fatal).
    public static func decode(_ value: [UInt8]?) -> Record? {
        guard let value, !value.isEmpty else { return nil }
        return try? JSONDecoder().decode(Record.self, from: Data(value))
    }

    static func encode(_ record: Record) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array((try? encoder.encode(record)) ?? Data())
    }
}
