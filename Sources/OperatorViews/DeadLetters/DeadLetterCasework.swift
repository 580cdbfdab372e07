import CardDomain
import FleetSupport
import Foundation
import JSONCodec
import Kafka
import Logging
import WorkerRuntime

/// A dead letter as read back from `card.dlq`, with its id (`card.dlq/<partition>/<offset>`).
struct DeadLetterEntry: Sendable {
    var id: String
    var letter: DeadLetter

    /// The cause with numbers and masked ids folded (`unknown order #`), for grouping similar letters.
    var causeClass: String { DeadLetterCasework.causeClass(letter.error) }
}

/// Which dead letters a command acts on: every filter given must match.
struct DeadLetterFilter: Sendable {
    var ids: Set<String> = []
    var worker: String?
    var sourceTopic: String?
    /// Case-insensitive text the (masked) cause must contain.
    var cause: String?
    var since: Date?
    var until: Date?

    func matches(_ entry: DeadLetterEntry) -> Bool {
        if !ids.isEmpty && !ids.contains(entry.id) { return false }
        if let worker, entry.letter.worker != worker { return false }
        if let sourceTopic, entry.letter.sourceTopic != sourceTopic { return false }
        if let cause, !entry.letter.error.localizedCaseInsensitiveContains(cause) { return false }
        if let since, entry.letter.at.date < since { return false }
        if let until, entry.letter.at.date > until { return false }
        return true
    }
}

/// Dead letters as casework: read them, group them by cause, replay a selection to its source
/// topic (optionally repaired), once, with an audit record on `card.dlq-audit` for every action.
///
/// All calls block: run them off the cooperative pool.
final class DeadLetterCasework: Sendable {
    static let deadLetterTopic = "card.dlq"
    static let auditTopic = "card.dlq-audit"

    private let servers: String
    private let logger: Logger

    init(bootstrapServers: String, logger: Logger) {
        self.servers = bootstrapServers
        self.logger = logger
    }

    /// Every dead letter the topic still holds, oldest first per partition.
    /// - Throws: `KafkaError` when the topic cannot be read; a record that is not a dead letter is skipped with a warning.
    func deadLetters() throws -> [DeadLetterEntry] {
        try readAll(Self.deadLetterTopic).compactMap { message in
            guard let value = message.value, let letter = try? CardJSON.decode(DeadLetter.self, from: value) else {
                logger.warning("a record on card.dlq is not a dead letter", metadata: ["partition": "\(message.partition)", "offset": "\(message.offset)"])
                return nil
            }
            return DeadLetterEntry(id: DeadLetterAudit.id(partition: message.partition, offset: message.offset), letter: letter)
        }
    }

    /// Every audit record, oldest first per partition (all actions on one dead letter share a partition).
    func auditTrail() throws -> [DeadLetterAudit] {
        try readAll(Self.auditTopic).compactMap { message in message.value.flatMap { try? CardJSON.decode(DeadLetterAudit.self, from: $0) } }
    }

    /// What a replay did with one dead letter.
    enum ReplayOutcome: Sendable, Equatable {
        /// Sent to its source topic; the audit record written. `patch`: the repair's masked diff lines.
        case replayed(id: String, topic: String, patch: [String])
        /// Already replayed before (by the audit trail): not sent again.
        case alreadyReplayed(id: String, at: Timestamp, by: String)
        /// Not sent: the payload was cut when dead-lettered, or the repair does not apply.
        case refused(id: String, why: String)
        /// `--dry-run`: what would be sent.
        case wouldReplay(id: String, topic: String, patch: [String])
    }

    /// Replays `entries` to their source topics with their original keys (the contract's
    /// partitioner: the producer's murmur2 default) and a `card-replay-of` header, each at most once.
    ///
    /// Order per letter: send, then write the audit record. A crash between the two can send a letter
    /// a second time on the next replay; the workers' own idempotency (submission_id, bank event
    /// dedup) makes that harmless, while the other order could mark a letter replayed that never was.
    /// - Throws: `KafkaError` when the audit trail cannot be read or a send or audit write fails.
    func replay(_ entries: [DeadLetterEntry], patch: JSONPatch?, reason: String, operatorName: String, dryRun: Bool) async throws -> [ReplayOutcome] {
        let done = Dictionary(try auditTrail().filter { $0.action == .replay }.map { ($0.deadLetter, $0) }) { first, _ in first }
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: servers, clientID: "card-dlq-replay")),
                                         logger: logger)
        var outcomes: [ReplayOutcome] = []
        for entry in entries {
            if let earlier = done[entry.id] {
                outcomes.append(.alreadyReplayed(id: entry.id, at: earlier.at, by: earlier.operatorName))
                continue
            }
            guard var payload = entry.letter.payload else {
                outcomes.append(.refused(id: entry.id, why: "payload_base64 is not base64"))
                continue
            }
            if entry.letter.payloadTruncated == true {
                outcomes.append(.refused(id: entry.id, why: "the dead letter holds only the start of the payload; replay the original from \(entry.letter.sourceTopic) partition \(entry.letter.partition) offset \(entry.letter.offset)"))
                continue
            }
            var diff: [String] = []
            if let patch {
                guard let document = JSONValue(parsing: payload) else {
                    outcomes.append(.refused(id: entry.id, why: "the payload is not JSON, so a JSON Patch cannot apply"))
                    continue
                }
                do {
                    let repaired = try patch.apply(to: document)
                    diff = patch.diff(before: document)
                    payload = try CardJSON.encode(repaired)
                } catch {
                    outcomes.append(.refused(id: entry.id, why: "the repair does not apply: \(error)"))
                    continue
                }
            }
            if dryRun {
                outcomes.append(.wouldReplay(id: entry.id, topic: entry.letter.sourceTopic, patch: diff))
                continue
            }
            do {
                try await producer.send(ProducerRecord(topic: entry.letter.sourceTopic, key: entry.letter.key.map { Array($0.utf8) },
                                                       value: Array(payload), headers: [KafkaHeader(name: replayOfHeader, string: entry.id)]))
            } catch {
                // Not sent, not audited: it can be replayed again. The letters after it still go.
                outcomes.append(.refused(id: entry.id, why: "the send failed: \(error)"))
                continue
            }
            let audit = DeadLetterAudit(action: .replay, deadLetter: entry.id, sourceTopic: entry.letter.sourceTopic, operatorName: operatorName,
                                        reason: Masking.redact(reason), at: .now(), patch: patch == nil ? nil : diff)
            do {
                try await producer.send(ProducerRecord(topic: Self.auditTopic, key: Array(entry.id.utf8), value: Array(try CardJSON.encode(audit))))
            } catch {
                outcomes.append(.refused(id: entry.id, why: "sent to \(entry.letter.sourceTopic), but its audit record failed (\(error)): a later replay would send it again"))
                continue
            }
            logger.notice("dead letter replayed", metadata: ["dead_letter": "\(entry.id)", "topic": "\(entry.letter.sourceTopic)",
                                                            "operator": "\(operatorName)", "patched": "\(patch != nil)"])
            outcomes.append(.replayed(id: entry.id, topic: entry.letter.sourceTopic, patch: diff))
        }
        try producer.flush(timeout: .seconds(10))
        return outcomes
    }

    /// Writes the audit record of a reveal before the personal data is shown.
    /// - Throws: `KafkaError` when it cannot be written: then nothing is revealed.
    func recordReveal(of entry: DeadLetterEntry, reason: String, operatorName: String) async throws {
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: servers, clientID: "card-dlq-reveal")),
                                         logger: logger)
        let audit = DeadLetterAudit(action: .reveal, deadLetter: entry.id, sourceTopic: entry.letter.sourceTopic, operatorName: operatorName,
                                    reason: Masking.redact(reason), at: .now())
        try await producer.send(ProducerRecord(topic: Self.auditTopic, key: Array(entry.id.utf8), value: Array(try CardJSON.encode(audit))))
        try producer.flush(timeout: .seconds(10))
        logger.notice("dead letter revealed", metadata: ["dead_letter": "\(entry.id)", "operator": "\(operatorName)", "reason": "\(Masking.redact(reason))"])
    }

    /// The cause with digit runs and masked ids folded into `#`, so letters that failed the same way group together.
    static func causeClass(_ cause: String) -> String {
        cause.replacing(/[0-9A-Za-z_-]*\*{2,}[0-9A-Za-z_-]*/, with: "#").replacing(/[0-9]+/, with: "#")
    }

    /// Reads a topic from its low to its high watermark as they are now.
    private func readAll(_ topic: String) throws -> [ConsumedMessage] {
        do {
            return try TopicReader(bootstrapServers: servers, logger: logger).readToEnd(topic)
        } catch let error as KafkaError where error.code == .consume {
            // A partial read would make "replayed once" and the counts wrong: better no answer.
            throw KafkaError(code: .consume, reason: "\(error.reason); nothing was done")
        }
    }
}
