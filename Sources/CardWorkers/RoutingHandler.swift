import CardDomain
import Foundation
import GRDB
import JSONCodec
import WorkerRuntime

/// Bank routing: the chosen branch must exist, belong to the chosen bank, be open and serve minors.
///
/// Input is keyed by `bank/branch`, so per-branch state (today: how many applications each
/// branch took) is partition-local.
public struct RoutingHandler: WorkerHandler {
    public init() {}

    public var inputTopics: [String] { [CardTopics.bankRouting] }
    public var referenceTables: [any ReferenceTable] { [BranchTable()] }

    public func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("routing-v1") { db in
            try db.execute(sql: """
                CREATE TABLE routing_decisions (application_id TEXT PRIMARY KEY, status TEXT NOT NULL, decided_at REAL NOT NULL);
                CREATE TABLE routing_branch_load (branch_key TEXT PRIMARY KEY, routed INTEGER NOT NULL);
                """)
        }
        // When the application entered routing (identity's decision), for time-in-stage.
        migrator.registerMigration("routing-v2-stage-times") { db in
            try db.execute(sql: """
                ALTER TABLE routing_decisions ADD COLUMN entered_at REAL;
                CREATE INDEX routing_decisions_decided ON routing_decisions(decided_at);
                """)
        }
    }

    /// Stage `routing`: parked applications are unfinished; time in stage is identity's decision → routing's.
    public func stageReport(in db: Database, context: HandlerContext, window: Duration) throws -> [StageReport] {
        var report = try StageQueries.parked(stage: "routing", in: db)
        report.recentDurations = try StageQueries.durations(
            sql: "SELECT decided_at - entered_at FROM routing_decisions WHERE decided_at >= ? AND entered_at IS NOT NULL",
            since: context.now.addingTimeInterval(-window.seconds), in: db)
        return [report]
    }

    public func handle(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult {
        // Only the head, the card request and the applicant's number are built; the submission goes on as its bytes.
        let input = try Decode.stageInput(RoutingInput.self, of: message, selecting: RoutingInput.selection)
        let head = input.head
        if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM routing_decisions WHERE application_id = ?"), arguments: [head.applicationID]) == true {
            return .done([])
        }
        let card = input.card
        let branch = try BranchTable.branch(bank: card.bank.rawValue, code: card.branch, in: context.reference)
        let reasons = RoutingRules.check(bank: card.bank, branchCode: card.branch, branch: branch)
        let now = Timestamp(context.now)
        let trace = TraceContext.child(of: head.traceparent, applicationID: head.applicationID, stage: "routing")
        let enteredAt = head.identityVerifiedAt?.secondsSinceEpoch
        guard reasons.isEmpty else {
            try db.cachedStatement(sql: "INSERT INTO routing_decisions (application_id, status, decided_at, entered_at) VALUES (?, 'rejected', ?, ?)").execute(
                           arguments: [head.applicationID, now.secondsSinceEpoch, enteredAt])
            return .done(try Emit.rejection(head, applicantIDNumber: input.applicantIDNumber, reasons: reasons, at: now, trace: trace))
        }
        try db.cachedStatement(sql: "INSERT INTO routing_decisions (application_id, status, decided_at, entered_at) VALUES (?, 'routed', ?, ?)").execute(
                       arguments: [head.applicationID, now.secondsSinceEpoch, enteredAt])
        try db.cachedStatement(sql: "INSERT INTO routing_branch_load (branch_key, routed) VALUES (?, 1) ON CONFLICT(branch_key) DO UPDATE SET routed = routed + 1").execute(
                       arguments: [card.routingKey])
        var next = head
        next.seq += 1
        next.routedAt = now
        next.traceparent = trace
        return .done([
            try Emit.status(StatusEvent(applicationID: head.applicationID, submissionID: head.submissionID, status: .routed,
                                        relationshipLabel: head.relationshipLabel, bank: card.bank, branch: card.branch,
                                        at: now, seq: next.seq), trace: trace),
            try Emit.envelope(next, to: CardTopics.cardProduction, key: next.applicationID, submission: try Emit.submissionBytes(of: message)),
        ])
    }
}

/// `bank.branches`, materialised in full, indexed by branch code too so a branch named under
/// the wrong bank is recognised (BRANCH_NOT_OF_BANK rather than BRANCH_UNKNOWN).
struct BranchTable: ReferenceTable {
    var topic: String { CardTopics.bankBranches }

    func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("branches-v1") { db in
            try db.execute(sql: """
                CREATE TABLE bank_branches (branch_key TEXT PRIMARY KEY, branch_code TEXT NOT NULL, record BLOB NOT NULL) WITHOUT ROWID;
                CREATE INDEX bank_branches_code ON bank_branches(branch_code);
                """)
        }
    }

    func apply(key: [UInt8]?, value: [UInt8]?, in db: Database) throws {
        _ = try applyReporting(key: key, value: value, in: db)
    }

    /// Validates the record (``BranchRecordRules``: a branch whose `bank/branch` is its key)
    /// and stores it; a record off the schema is rejected, loudly, by the loader.
    func applyReporting(key: [UInt8]?, value: [UInt8]?, in db: Database) throws -> [String] {
        switch BranchRecordRules.read(key: key, value: value) {
        case .reject(let cause):
            throw ReferenceRecordRejected(cause: cause)
        case .remove(let branchKey, _):
            try db.cachedStatement(sql: "DELETE FROM bank_branches WHERE branch_key = ?").execute(arguments: [branchKey])
        case .store(let branchKey, let branch, _):
            try db.cachedStatement(sql: """
                INSERT INTO bank_branches (branch_key, branch_code, record) VALUES (?, ?, ?)
                ON CONFLICT(branch_key) DO UPDATE SET branch_code = excluded.branch_code, record = excluded.record
                """).execute(arguments: [branchKey, branch.branch, Data(value ?? [])])
        }
        return []
    }

    static func branch(bank: String, code: String, in reference: (any DatabaseReader)?) throws -> Branch? {
        guard let reference else { return nil }
        // Point lookups need no snapshot across them: `unsafeRead` skips the BEGIN/COMMIT that
        // `read` wraps around every call (~5 % of identity's CPU with the decode, perf, issue 14).
        return try reference.unsafeRead { db in
            let data = try Data.fetchOne(db.cachedStatement(sql: "SELECT record FROM bank_branches WHERE branch_key = ?"), arguments: [Branch.key(bank: bank, branch: code)])
                ?? Data.fetchOne(db.cachedStatement(sql: "SELECT record FROM bank_branches WHERE branch_code = ? LIMIT 1"), arguments: [code])
            return try data.map { try decodedBranches.value(for: $0) { try CardJSON.decode(Branch.self, from: $0) } }
        }
    }

    /// Branch records decoded before, by their bytes (a few hundred branches, read per application).
    static let decodedBranches = DecodedRecordMemo<Branch>(limit: 4096)
}
