import Foundation
import GRDB
import WorkerRuntime

/// Queries the handlers' stage reports share.
enum StageQueries {
    /// Most durations one partition contributes per report: enough for stable percentiles, bounded cost.
    static let sampleLimit = 5000

    /// Messages parked for retry in this partition (the runtime's `runtime_retry`): unfinished in `stage`.
    static func parked(stage: String, in db: Database) throws -> StageReport {
        let row = try Row.fetchOne(db, sql: "SELECT COUNT(*) AS n, MIN(first_seen_at) AS oldest FROM runtime_retry")
        return StageReport(stage: stage, unfinished: row?["n"] ?? 0,
                           oldestUnfinishedSince: (row?["oldest"] as Double?).map { Date(timeIntervalSince1970: $0) })
    }

    /// Seconds in stage from `sql` (one `?`: the window start), at most `sampleLimit`, never negative.
    static func durations(sql: String, since: Date, in db: Database) throws -> [Double] {
        try Double.fetchAll(db, sql: sql + " LIMIT \(sampleLimit)", arguments: [since.timeIntervalSince1970]).map { max(0, $0) }
    }
}
