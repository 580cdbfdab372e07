import ArgumentParser
import FleetSupport
import Foundation
import WorkerRuntime

/// `fleet bench-restore` (hidden): restore time of a partition's state per 100,000 rows, from a
/// snapshot and from changesets only (issue 13; docs/state-changelog.md, "Snapshots").
/// Prints figures; asserts nothing about speed.
package struct BenchRestore: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bench-restore",
        abstract: "Benchmark restoring a partition's state: from a snapshot, and from changesets only.",
        discussion: """
            Builds one partition file as a worker does (handler rows of --row-bytes bytes, each with an \
            applied message id, in transactions of --rows-per-transaction, every transaction's changeset \
            recorded), then times taking a snapshot (VACUUM INTO, read, SHA-256), a restore from that \
            snapshot and a restore from every changeset, and checks both restores hold the source's rows. \
            Reading the changelog from Kafka is not included. Exits non-zero if a restore differs.
            """,
        shouldDisplay: false)

    @Option(help: "State rows in the partition file.") var rows = 100_000
    @Option(help: "Rows per SQLite transaction (the worker's batch).") var rowsPerTransaction = 500
    @Option(help: "Approximate bytes per handler row.") var rowBytes = 200
    @Option(help: "Work folder; default: a fresh temporary folder, deleted at the end.") var workDir: String?

    package init() {}

    package func validate() throws {
        guard rows > 0, rowsPerTransaction > 0, rowBytes >= 60 else {
            throw ValidationError("--rows and --rows-per-transaction must be positive, --row-bytes at least 60")
        }
    }

    package func run() async throws {
        let (rows, perTransaction, rowBytes) = (rows, rowsPerTransaction, rowBytes)
        let directory = workDir.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("bench-restore-\(UUID().uuidString)")
        defer { if workDir == nil { try? FileManager.default.removeItem(at: directory) } }
        let figures = try await OffPool.run("bench-restore") {
            try RestoreBenchmark.run(rows: rows, rowsPerTransaction: perTransaction, rowBytes: rowBytes, directory: directory)
        }
        #if DEBUG
        let build = "debug build"
        #else
        let build = "release build"
        #endif
        let per100k = 100_000 / Double(figures.rows)
        func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        func line(_ name: String, _ seconds: Double) -> String {
            String(format: "  %@ %8.3f s   (%.3f s per 100,000 rows)", name.padding(toLength: 34, withPad: " ", startingAt: 0), seconds, seconds * per100k)
        }
        Terminal.say("bench-restore (\(build)): \(figures.rows) rows in \(figures.transactions) transactions; file \(mib(figures.fileBytes)), "
            + "changesets \(mib(figures.changesetBytes)), snapshot image \(mib(figures.imageBytes))")
        Terminal.say(line("snapshot taken (owner, background)", figures.snapshotSeconds))
        Terminal.say(line("restore from the snapshot", figures.restoreFromSnapshotSeconds))
        Terminal.say(line("restore from changesets only", figures.restoreFromChangesetsSeconds))
        Terminal.say("  both restores hold the source's rows: \(figures.identical ? "yes" : "NO")")
        if !figures.identical { throw ExitCode.failure }
    }
}
