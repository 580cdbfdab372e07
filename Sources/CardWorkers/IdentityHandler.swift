import CardDomain
import Foundation
import GRDB
import JSONCodec
import WorkerRuntime

/// Identity verification: both people and their relationship against the population registry.
///
/// A person not in the registry yet is retried with backoff (the feed may simply be behind)
/// until `registryGracePeriod` has passed since the application arrived, then rejected.
public struct IdentityHandler: WorkerHandler {
    public var registryGracePeriod: Duration

    public init(registryGracePeriod: Duration = .seconds(600)) {
        self.registryGracePeriod = registryGracePeriod
    }

    public var inputTopics: [String] { [CardTopics.identityVerification] }
    public var referenceTables: [any ReferenceTable] { [RegistryTable()] }

    public func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("identity-v1") { db in
            try db.execute(sql: "CREATE TABLE identity_decisions (application_id TEXT PRIMARY KEY, status TEXT NOT NULL, decided_at REAL NOT NULL)")
        }
        // When the application entered identity (intake's received_at), for time-in-stage.
        migrator.registerMigration("identity-v2-stage-times") { db in
            try db.execute(sql: """
                ALTER TABLE identity_decisions ADD COLUMN entered_at REAL;
                CREATE INDEX identity_decisions_decided ON identity_decisions(decided_at);
                """)
        }
    }

    /// Stage `identity`: applications parked waiting for the registry are unfinished;
    /// time in stage is intake's decision → identity's decision.
    public func stageReport(in db: Database, context: HandlerContext, window: Duration) throws -> [StageReport] {
        var report = try StageQueries.parked(stage: "identity", in: db)
        report.recentDurations = try StageQueries.durations(
            sql: "SELECT decided_at - entered_at FROM identity_decisions WHERE decided_at >= ? AND entered_at IS NOT NULL",
            since: context.now.addingTimeInterval(-window.seconds), in: db)
        return [report]
    }

    public func handle(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult {
        // Only the parts identity reads are built; the submission goes on as the bytes it came in.
        let input = try Decode.stageInput(IdentityInput.self, of: message, selecting: IdentityInput.selection)
        let head = input.head
        if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM identity_decisions WHERE application_id = ?"), arguments: [head.applicationID]) == true {
            return .done([])
        }
        let (agent, applicant) = try RegistryTable.persons(input.agent.idNumber, input.applicant.idNumber, in: context.reference)
        let outcome = IdentityRules.check(claimedAgent: input.agent, claimedApplicant: input.applicant, household: input.household,
                                          agent: agent, applicant: applicant)
        if outcome.isWaitingForRegistry && context.now.timeIntervalSince(message.firstSeenAt) < registryGracePeriod.seconds {
            return .retry(reason: "person not in the registry yet")
        }
        let now = Timestamp(context.now)
        let trace = TraceContext.child(of: head.traceparent, applicationID: head.applicationID, stage: "identity")
        switch outcome {
        case .rejected(let reasons):
            try record(head, "rejected", now, db)
            return .done(try Emit.rejection(head, applicantIDNumber: input.applicant.idNumber, reasons: reasons, at: now, trace: trace))
        case .verified(let label):
            try record(head, "identity_verified", now, db)
            var next = head
            next.seq += 1
            next.relationshipLabel = label
            // Verified means both were found: the card prints the registry's spelling.
            if let agent, let applicant { next.registeredNames = RegisteredNames(agent: agent.name, applicant: applicant.name) }
            next.identityVerifiedAt = now
            next.traceparent = trace
            return .done([
                try Emit.status(StatusEvent(applicationID: head.applicationID, submissionID: head.submissionID,
                                            status: .identityVerified, relationshipLabel: label, at: now, seq: next.seq), trace: trace),
                try Emit.envelope(next, to: CardTopics.bankRouting, key: input.card.routingKey, submission: try Emit.submissionBytes(of: message)),
            ])
        }
    }

    private func record(_ head: EnvelopeHead, _ status: String, _ now: Timestamp, _ db: Database) throws {
        try db.cachedStatement(sql: "INSERT INTO identity_decisions (application_id, status, decided_at, entered_at) VALUES (?, ?, ?, ?)").execute(
                       arguments: [head.applicationID, status, now.secondsSinceEpoch, head.receivedAt.secondsSinceEpoch])
    }
}

/// `registry.persons`, materialised in full: one row per id_number.
struct RegistryTable: ReferenceTable {
    var topic: String { CardTopics.registryPersons }

    func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("registry-v1") { db in
            try db.execute(sql: "CREATE TABLE registry_persons (id_number TEXT PRIMARY KEY, record BLOB NOT NULL) WITHOUT ROWID")
        }
        // Records are validated and normalised since v2 (lower-case x stored as X): read the
        // compacted topic again from its start, so rows stored under keys nothing reaches go.
        migrator.registerMigration("registry-v2-validated") { db in
            try db.execute(sql: "DELETE FROM registry_persons")
            try db.execute(sql: "DELETE FROM runtime_reference_offsets WHERE topic = ?", arguments: [CardTopics.registryPersons])
        }
    }

    func apply(key: [UInt8]?, value: [UInt8]?, in db: Database) throws {
        _ = try applyReporting(key: key, value: value, in: db)
    }

    /// Validates the record (``RegistryRecordRules``: lower-case `x` read as `X`, anything
    /// else off the schema rejected) and stores it under its upper-case id_number.
    func applyReporting(key: [UInt8]?, value: [UInt8]?, in db: Database) throws -> [String] {
        let verdict = RegistryRecordRules.read(key: key, value: value, today: Timestamp.now().shanghaiDate)
        switch verdict {
        case .reject(let cause):
            throw ReferenceRecordRejected(cause: cause)
        case .remove(let id, _):
            // A tombstone removes the person.
            try db.cachedStatement(sql: "DELETE FROM registry_persons WHERE id_number = ?").execute(arguments: [id])
        case .store(let id, let person, _):
            try db.cachedStatement(sql: "INSERT INTO registry_persons (id_number, record) VALUES (?, ?) ON CONFLICT(id_number) DO UPDATE SET record = excluded.record").execute(
                           arguments: [id, try CardJSON.encode(person)])
        }
        return verdict.notes
    }

    static func persons(_ first: String, _ second: String, in reference: (any DatabaseReader)?) throws -> (RegistryPerson?, RegistryPerson?) {
        guard let reference else { return (nil, nil) }
        // Point lookups need no snapshot across them: `unsafeRead` skips the BEGIN/COMMIT that
        // `read` wraps around every call (~5 % of identity's CPU with the decode, perf, issue 14).
        return try reference.unsafeRead { db in
            func person(_ id: String) throws -> RegistryPerson? {
                guard let data = try Data.fetchOne(db.cachedStatement(sql: "SELECT record FROM registry_persons WHERE id_number = ?"), arguments: [id]) else { return nil }
                return try CardJSON.decode(RegistryPerson.self, from: data)
            }
            return (try person(first), try person(second))
        }
    }
}
