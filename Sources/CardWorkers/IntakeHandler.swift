import CardDomain
import Foundation
import GRDB
import JSONCodec
import Synchronization
import WorkerRuntime

/// Intake: validates portal submissions, keeps one active application per child, and passes
/// accepted applications on to identity verification.
///
/// State (per partition of `card.submission`, keyed by the applicant's id_number):
/// every submission_id seen (the idempotency key) and the child's active application.
/// `card.application-closed` is co-partitioned, so the news that frees a child lands here.
public struct IntakeHandler: WorkerHandler {
    /// The last submission parsed for its contract key, so `handle` need not parse it again.
    private let lastParsed = ParsedSubmissionMemo()

    public init() {}

    public var inputTopics: [String] { [CardTopics.submission, CardTopics.applicationClosed] }

    /// Portals write `card.submission` with whatever client and key they have; `card.application-closed` is the fleet's.
    public func origin(of topic: String) -> InputOrigin { topic == CardTopics.submission ? .outside : .fleet }

    /// A submission's contract key: the applicant's id_number (contract.md, "Topics"). A submission
    /// without one (or without a usable submission_id) can only be dead-lettered or rejected where it is.
    public func contractKey(of message: InboundMessage) -> [UInt8]? {
        guard message.topic == CardTopics.submission else { return nil }
        let bytes = message.value ?? []
        let tree = JSONValue(parsing: bytes)
        lastParsed.keep(bytes, tree)
        return tree.flatMap(ContractKeys.submission(parsed:)).map { Array($0.utf8) }
    }

    public func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("intake-v1") { db in
            try db.execute(sql: """
                CREATE TABLE intake_applications (
                    application_id TEXT PRIMARY KEY,
                    applicant_id_number TEXT,
                    status TEXT NOT NULL,
                    received_at REAL NOT NULL,
                    closed_at REAL);
                CREATE TABLE intake_active (
                    applicant_id_number TEXT PRIMARY KEY,
                    application_id TEXT NOT NULL);
                """)
        }
        // When the submission entered intake (its Kafka timestamp), for time-in-stage.
        migrator.registerMigration("intake-v2-stage-times") { db in
            try db.execute(sql: """
                ALTER TABLE intake_applications ADD COLUMN entered_at REAL;
                CREATE INDEX intake_applications_received ON intake_applications(received_at);
                """)
        }
    }

    /// Stage `intake`: parked submissions are unfinished; time in stage is publish → decision.
    public func stageReport(in db: Database, context: HandlerContext, window: Duration) throws -> [StageReport] {
        var report = try StageQueries.parked(stage: "intake", in: db)
        report.recentDurations = try StageQueries.durations(
            sql: "SELECT received_at - entered_at FROM intake_applications WHERE received_at >= ? AND entered_at IS NOT NULL",
            since: context.now.addingTimeInterval(-window.seconds), in: db)
        return [report]
    }

    public func handle(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult {
        if message.topic == CardTopics.applicationClosed { return try close(message, in: db) }

        let bytes = message.value ?? []
        let outcome = IntakeValidator.validate(bytes, parsed: lastParsed.take(bytes) ?? JSONValue(parsing: bytes))
        guard case .parsed(var parsed) = outcome else {
            return .deadLetter(cause: outcome.deadLetterError ?? "unusable submission")
        }
        // The same submission_id again changes nothing and emits nothing.
        if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM intake_applications WHERE application_id = ?"), arguments: [parsed.submissionID]) == true {
            return .done([])
        }
        if let applicant = parsed.applicantIDNumber,
           try String.fetchOne(db.cachedStatement(sql: "SELECT application_id FROM intake_active WHERE applicant_id_number = ?"), arguments: [applicant]) != nil {
            parsed.add(.duplicateActiveApplication())
        }
        let now = Timestamp(context.now)
        let enteredAt = message.message.timestampMilliseconds.map { Double($0) / 1000 }
        let trace = TraceContext.child(of: message.message.header(TraceContext.header)?.stringValue,
                                       applicationID: parsed.submissionID, stage: "intake")
        guard let submission = parsed.accepted else {
            try db.cachedStatement(sql: "INSERT INTO intake_applications (application_id, applicant_id_number, status, received_at, closed_at, entered_at) VALUES (?, ?, 'rejected', ?, ?, ?)").execute(
                           arguments: [parsed.submissionID, parsed.applicantIDNumber, now.secondsSinceEpoch, now.secondsSinceEpoch, enteredAt])
            return .done([try Emit.status(StatusEvent(applicationID: parsed.submissionID, status: .rejected,
                                                      reasons: parsed.reasons, at: now, seq: 1), trace: trace)])
        }
        let applicant = submission.applicant.idNumber
        try db.cachedStatement(sql: "INSERT INTO intake_applications (application_id, applicant_id_number, status, received_at, entered_at) VALUES (?, ?, 'received', ?, ?)").execute(
                       arguments: [submission.submissionID, applicant, now.secondsSinceEpoch, enteredAt])
        try db.cachedStatement(sql: "INSERT INTO intake_active (applicant_id_number, application_id) VALUES (?, ?)").execute(
                       arguments: [applicant, submission.submissionID])
        // The envelope carries intake's span: the next stage's parent.
        let envelope = ApplicationEnvelope(submission: submission, seq: 1, receivedAt: now, traceparent: trace)
        return .done([
            try Emit.status(StatusEvent(applicationID: submission.submissionID, status: .received, at: now, seq: 1), trace: trace),
            try Emit.envelope(envelope, to: CardTopics.identityVerification, key: envelope.applicationID),
        ])
    }

    /// A later stage rejected the application or the bank failed it: the child may apply again.
    private func close(_ message: InboundMessage, in db: Database) throws -> HandlerResult {
        let closed = try Decode.value(ApplicationClosed.self, of: message, schema: ApplicationClosed.schemaName)
        try db.cachedStatement(sql: "UPDATE intake_applications SET status = ?, closed_at = ? WHERE application_id = ?").execute(
                       arguments: [closed.status.rawValue, closed.at.secondsSinceEpoch, closed.applicationID])
        try db.cachedStatement(sql: "DELETE FROM intake_active WHERE applicant_id_number = ? AND application_id = ?").execute(
                       arguments: [closed.applicantIDNumber, closed.applicationID])
        return .done([])
    }
}

/// One parsed submission handed from `contractKey(of:)` (the runtime's placement check) to
/// `handle` of the same record: parsing a 2 KB submission was ~8 % of intake's CPU, twice per record.
/// Matched by content, so a record handled without the check first (a retry) just parses again.
final class ParsedSubmissionMemo: Sendable {
    private let slot = Mutex<(bytes: [UInt8], tree: JSONValue?)?>(nil)

    func keep(_ bytes: [UInt8], _ tree: JSONValue?) { slot.withLock { $0 = (bytes, tree) } }

    /// The tree kept for exactly these bytes (`.some(nil)`: they are not JSON), once; `nil` when none is kept.
    func take(_ bytes: [UInt8]) -> JSONValue?? {
        slot.withLock { kept in
            defer { kept = nil }
            guard let kept, kept.bytes == bytes else { return nil }
            return .some(kept.tree)
        }
    }
}
