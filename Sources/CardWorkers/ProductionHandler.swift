import CardDomain
import Foundation
import GRDB
import JSONCodec
import WorkerRuntime

/// Card production: one order per routed application to its bank, then the bank's events
/// move the application to the branch and into the parent's hands.
///
/// `card.card-production` and `card.bank-events` are both keyed by application_id and
/// co-partitioned, so an order and its events share one state file. Each bank event is
/// kept once (primary key), and the status only moves forward, so duplicates and
/// out-of-order events change nothing twice.
public struct ProductionHandler: WorkerHandler {
    public init() {}

    public var inputTopics: [String] { [CardTopics.cardProduction, CardTopics.bankEvents] }

    /// Banks write `card.bank-events` with whatever client, key and headers they have (some copy the
    /// order's `card-message-id`); `card.card-production` is the fleet's.
    public func origin(of topic: String) -> InputOrigin { topic == CardTopics.bankEvents ? .outside : .fleet }

    /// A bank event's contract key: its application_id (contract.md, "Topics"). An event that does not
    /// decode is dead-lettered where it is, with the cause.
    public func contractKey(of message: InboundMessage) -> [UInt8]? {
        guard message.topic == CardTopics.bankEvents else { return nil }
        return ContractKeys.bankEvent(message.value ?? []).map { Array($0.utf8) }
    }

    public func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("production-v1") { db in
            try db.execute(sql: """
                CREATE TABLE production_orders (
                    application_id TEXT PRIMARY KEY,
                    order_id TEXT NOT NULL UNIQUE,
                    submission_id TEXT NOT NULL,
                    applicant_id_number TEXT NOT NULL,
                    bank TEXT NOT NULL,
                    branch TEXT NOT NULL,
                    relationship_label TEXT,
                    status TEXT NOT NULL,
                    seq INTEGER NOT NULL,
                    ordered_at REAL NOT NULL,
                    due_by REAL NOT NULL,
                    overdue_reported INTEGER NOT NULL DEFAULT 0,
                    updated_at REAL NOT NULL);
                CREATE INDEX production_orders_due ON production_orders(status, overdue_reported, due_by);
                CREATE TABLE production_bank_events (
                    application_id TEXT NOT NULL, event TEXT NOT NULL, at TEXT NOT NULL, reason TEXT, received_at REAL NOT NULL,
                    PRIMARY KEY (application_id, event));
                """)
        }
        // The trace context of the order (for statuses emitted later) and when the card reached the branch.
        migrator.registerMigration("production-v2-trace-and-stage-times") { db in
            try db.execute(sql: """
                ALTER TABLE production_orders ADD COLUMN traceparent TEXT;
                ALTER TABLE production_orders ADD COLUMN ready_at REAL;
                CREATE INDEX production_orders_ready ON production_orders(ready_at);
                CREATE INDEX production_orders_open ON production_orders(status, ordered_at);
                """)
        }
    }

    /// Stage `production`: orders not yet at the branch (in production or overdue) are unfinished;
    /// time in stage is order → card at the branch.
    public func stageReport(in db: Database, context: HandlerContext, window: Duration) throws -> [StageReport] {
        let open = try Row.fetchOne(db, sql: """
            SELECT COUNT(*) AS n, MIN(ordered_at) AS oldest FROM production_orders WHERE status IN ('in_production', 'overdue')
            """)
        var report = StageReport(stage: "production", unfinished: open?["n"] ?? 0,
                                 oldestUnfinishedSince: (open?["oldest"] as Double?).map { Date(timeIntervalSince1970: $0) })
        report.merge(try StageQueries.parked(stage: "production", in: db))
        report.recentDurations = try StageQueries.durations(
            sql: "SELECT ready_at - ordered_at FROM production_orders WHERE ready_at >= ?",
            since: context.now.addingTimeInterval(-window.seconds), in: db)
        return [report]
    }

    public func handle(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult {
        message.topic == CardTopics.bankEvents ? try bankEvent(message, in: db, context: context) : try order(message, in: db, context: context)
    }

    // MARK: - Orders

    private func order(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult {
        // Only what the order prints is built (no consents, household answers or scans but the photo).
        let input = try Decode.stageInput(ProductionInput.self, of: message, selecting: ProductionInput.selection)
        let head = input.head
        if try Bool.fetchOne(db.cachedStatement(sql: "SELECT 1 FROM production_orders WHERE application_id = ?"), arguments: [head.applicationID]) == true {
            return .done([])
        }
        let now = Timestamp(context.now)
        let order = input.order(orderedAt: now)
        let seq = head.seq + 1
        let trace = TraceContext.child(of: head.traceparent, applicationID: head.applicationID, stage: "production")
        try db.cachedStatement(sql: """
            INSERT INTO production_orders (application_id, order_id, submission_id, applicant_id_number, bank, branch, relationship_label,
                                           status, seq, ordered_at, due_by, updated_at, traceparent)
            VALUES (?, ?, ?, ?, ?, ?, ?, 'in_production', ?, ?, ?, ?, ?)
            """).execute(arguments: [head.applicationID, order.orderID, head.submissionID, input.applicant.idNumber,
                             order.bank.rawValue, order.branch, head.relationshipLabel?.rawValue, seq,
                             now.secondsSinceEpoch, order.dueBy.secondsSinceEpoch, now.secondsSinceEpoch, trace])
        return .done([
            OutboundMessage(topic: CardTopics.orders, key: order.bank.rawValue, value: try Emit.json(order), id: "\(head.applicationID)/order",
                            headers: TraceContext.kafkaHeader(trace)),
            try Emit.status(StatusEvent(applicationID: head.applicationID, submissionID: head.submissionID, status: .inProduction,
                                        relationshipLabel: head.relationshipLabel, bank: order.bank, branch: order.branch,
                                        dueBy: order.dueBy, at: now, seq: seq), trace: trace),
        ])
    }

    // MARK: - Bank events

    private func bankEvent(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult {
        let event = try Decode.value(BankEvent.self, of: message, schema: "card.bank-events")
        guard var order = try OrderRow.fetch(event.applicationID, in: db), order.orderID == event.orderID else {
            return .deadLetter(cause: "bank event \(event.event.rawValue) for unknown order \(event.orderID) (application \(event.applicationID))")
        }
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO production_bank_events (application_id, event, at, reason, received_at) VALUES (?, ?, ?, ?, ?)").execute(
                       arguments: [event.applicationID, event.event.rawValue, event.at.description, event.reason, context.now.timeIntervalSince1970])
        guard db.changesCount > 0 else { return .done([]) }  // seen before

        let now = Timestamp(context.now)
        var outputs: [OutboundMessage] = []
        func emit(_ status: ApplicationStatus, reasons: [Reason] = [], eCard: Bool? = nil) throws {
            order.seq += 1
            order.status = status
            outputs.append(try Emit.status(StatusEvent(
                applicationID: order.applicationID, submissionID: order.submissionID, status: status, reasons: reasons,
                relationshipLabel: order.relationshipLabel, bank: order.bank, branch: order.branch, dueBy: order.dueBy,
                eCard: eCard, at: now, seq: order.seq), trace: order.traceparent))
            if status == .readyForPickup {
                try db.cachedStatement(sql: "UPDATE production_orders SET ready_at = ? WHERE application_id = ?").execute(
                               arguments: [now.secondsSinceEpoch, order.applicationID])
            }
        }
        let producing: Set<ApplicationStatus> = [.inProduction, .overdue]
        switch event.event {
        case .accepted, .produced:
            break  // kept in the history only
        case .atBranch:
            if producing.contains(order.status) { try emit(.readyForPickup, eCard: true) }
        case .pickedUp:
            // A pick-up reported before at_branch still means the card reached the branch first.
            if producing.contains(order.status) { try emit(.readyForPickup, eCard: true) }
            if order.status == .readyForPickup { try emit(.pickedUp) }
        case .failed:
            if producing.contains(order.status) || order.status == .readyForPickup {
                try emit(.failed, reasons: [Reason.bankProductionFailed()])
                outputs.append(OutboundMessage(
                    topic: CardTopics.applicationClosed, key: order.applicantIDNumber,
                    value: try Emit.json(ApplicationClosed(applicationID: order.applicationID, applicantIDNumber: order.applicantIDNumber,
                                                           status: .failed, at: now)),
                    id: "\(order.applicationID)/closed", headers: TraceContext.kafkaHeader(order.traceparent)))
            }
        }
        if !outputs.isEmpty { try order.save(in: db, at: now) }
        return .done(outputs)
    }

    // MARK: - Overdue

    /// Overdue orders are time-driven (contract: `overdue`), so the loop ticks this handler.
    public var ticks: Bool { true }

    /// Reports, once, every order past due_by that has not reached the branch.
    public func tick(in db: Database, context: HandlerContext) throws -> [OutboundMessage] {
        let now = Timestamp(context.now)
        let ids = try String.fetchAll(db.cachedStatement(sql: """
            SELECT application_id FROM production_orders
            WHERE status = 'in_production' AND overdue_reported = 0 AND due_by < ? LIMIT 1000
            """), arguments: [now.secondsSinceEpoch])
        var outputs: [OutboundMessage] = []
        for id in ids {
            guard var order = try OrderRow.fetch(id, in: db) else { continue }
            order.seq += 1
            order.status = .overdue
            outputs.append(try Emit.status(StatusEvent(
                applicationID: order.applicationID, submissionID: order.submissionID, status: .overdue,
                relationshipLabel: order.relationshipLabel, bank: order.bank, branch: order.branch, dueBy: order.dueBy,
                at: now, seq: order.seq), trace: order.traceparent))
            try order.save(in: db, at: now)
            try db.cachedStatement(sql: "UPDATE production_orders SET overdue_reported = 1 WHERE application_id = ?").execute(arguments: [id])
        }
        return outputs
    }
}

/// The production state of one application.
struct OrderRow {
    var applicationID: String
    var orderID: String
    var submissionID: String
    var applicantIDNumber: String
    var bank: Bank
    var branch: String
    var relationshipLabel: RelationshipLabel?
    var status: ApplicationStatus
    var seq: Int
    var dueBy: Timestamp
    var traceparent: String?

    static func fetch(_ applicationID: String, in db: Database) throws -> OrderRow? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM production_orders WHERE application_id = ?"), arguments: [applicationID]),
              let bank = Bank(rawValue: row["bank"]), let status = ApplicationStatus(rawValue: row["status"]) else { return nil }
        return OrderRow(applicationID: row["application_id"], orderID: row["order_id"], submissionID: row["submission_id"],
                        applicantIDNumber: row["applicant_id_number"], bank: bank, branch: row["branch"],
                        relationshipLabel: (row["relationship_label"] as String?).flatMap(RelationshipLabel.init(rawValue:)),
                        status: status, seq: row["seq"], dueBy: Timestamp(secondsSinceEpoch: row["due_by"]),
                        traceparent: row["traceparent"])
    }

    func save(in db: Database, at now: Timestamp) throws {
        try db.cachedStatement(sql: "UPDATE production_orders SET status = ?, seq = ?, updated_at = ? WHERE application_id = ?").execute(
                       arguments: [status.rawValue, seq, now.secondsSinceEpoch, applicationID])
    }
}
