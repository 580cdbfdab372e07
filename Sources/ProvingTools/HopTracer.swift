import CardWorkers
import FleetSupport
import Foundation
import GRDB
import Kafka
import Logging
import Synchronization
import WorkerRuntime

/// Follows every application through the fleet's internal hops during a verification run, so an
/// application that never finishes can be located: which hop topics hold its message (partition
/// and offset), and what the consuming worker's partition state says about it (next offset,
/// applied id, parked retry). Reads the hop topics live from their low watermark, like
/// `OutputCollector`, so retention cannot hide a message that was stored.
final class HopTracer: @unchecked Sendable {
    /// The hops in pipeline order: the topic and the worker that consumes it.
    static let hops: [(topic: String, worker: String)] = [
        (CardTopics.submission, "intake"),
        (CardTopics.identityVerification, "identity"),
        (CardTopics.bankRouting, "routing"),
        (CardTopics.cardProduction, "production"),
    ]

    struct Sighting: Sendable, Equatable {
        var partition: Int32
        var offset: Int64
        var messageID: String?
    }

    private let reader: TopicReader
    /// topic → application → first sighting.
    private let seen = Mutex<[String: [String: Sighting]]>([:])
    private let readErrors = Mutex<[String]>([])
    private let stop = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)

    init(servers: String, logger: Logger) throws {
        reader = try TopicReader(bootstrapServers: servers, logger: logger)
        try reader.start(Self.hops.map(\.topic))
    }

    func start() {
        let thread = Thread { [self] in
            while !stop.withLock({ $0 }) {
                let result = reader.poll(timeout: .milliseconds(50))
                absorb(result)
            }
            finished.signal()
        }
        thread.name = "hop-tracer"
        thread.start()
    }

    func stopReading() {
        stop.withLock { $0 = true }
        finished.wait()
    }

    private func absorb(_ result: PollResult) {
        var batch: [(String, String, Sighting)] = []
        for message in result.messages {
            let value = message.value ?? []
            // Submissions carry submission_id (= application id); envelopes carry application_id.
            let field = message.topic == CardTopics.submission ? "submission_id" : "application_id"
            guard let application = OutputCollector.stringField(field, in: value) else { continue }
            batch.append((message.topic, application,
                          Sighting(partition: message.partition, offset: message.offset,
                                   messageID: message.header(messageIDHeader)?.stringValue)))
        }
        if !result.errors.isEmpty { readErrors.withLock { $0 += result.errors.map { "\($0)" } } }
        guard !batch.isEmpty else { return }
        seen.withLock { s in
            for (topic, application, sighting) in batch where s[topic]?[application] == nil {
                s[topic, default: [:]][application] = sighting
            }
        }
    }

    /// The applications seen on hop `topic` so far, each with its first sighting (partition, offset, message id).
    func sightings(on topic: String) -> [String: Sighting] { seen.withLock { $0[topic] ?? [:] } }

    /// Where `application` went: one line per hop, up to the first hop it was not seen on.
    /// - Parameter stateDirectory: the fleet's `state/` folder (one folder per worker).
    func locate(_ application: String, stateDirectory: URL) -> String {
        let snapshot = seen.withLock { $0 }
        var parts: [String] = []
        for hop in Self.hops {
            guard let sighting = snapshot[hop.topic]?[application] else {
                parts.append("\(hop.topic): NOT in the topic")
                break
            }
            let state = Self.partitionState(worker: hop.worker, topic: hop.topic, sighting: sighting,
                                            stateDirectory: stateDirectory)
            parts.append("\(hop.topic)[\(sighting.partition)]@\(sighting.offset) (\(hop.worker): \(state))")
        }
        return "\(application): " + parts.joined(separator: " → ")
    }

    var errors: [String] { readErrors.withLock { $0 } }

    /// What the consuming worker's partition file says about one message: its next offset for the
    /// topic, and whether the message id is applied or parked.
    static func partitionState(worker: String, topic: String, sighting: Sighting, stateDirectory: URL) -> String {
        let file = stateDirectory.appendingPathComponent(worker)
            .appendingPathComponent(String(format: "partition-%03d.sqlite", sighting.partition))
        guard FileManager.default.fileExists(atPath: file.path) else { return "no partition file" }
        do {
            var configuration = Configuration()
            configuration.readonly = true
            let queue = try DatabaseQueue(path: file.path, configuration: configuration)
            return try queue.read { db in
                let next = try Int64.fetchOne(db, sql: "SELECT next_offset FROM runtime_offsets WHERE topic = ? AND partition = ?",
                                              arguments: [topic, sighting.partition])
                let applied = try sighting.messageID.map {
                    try Bool.fetchOne(db, sql: "SELECT 1 FROM runtime_applied WHERE message_id = ?", arguments: [$0]) ?? false
                }
                let parked = try Bool.fetchOne(db, sql: "SELECT 1 FROM runtime_retry WHERE topic = ? AND partition = ? AND offset = ?",
                                               arguments: [topic, sighting.partition, sighting.offset]) ?? false
                var words = ["next offset \(next.map(String.init) ?? "none")"]
                if let next { words.append(next > sighting.offset ? "passed" : "not yet read") }
                if let applied { words.append(applied ? "id applied" : "id not applied") }
                if parked { words.append("parked") }
                return words.joined(separator: ", ")
            }
        } catch {
            return "unreadable: \(error)"
        }
    }
}
