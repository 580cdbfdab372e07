import ArgumentParser
import Foundation
import GRDB
import WorkerCLI
import WorkerRuntime

/// Counts messages per key and emits `key:count` downstream with the deterministic id
/// `count/<key>/<count>`: a worker small enough that tests can know its exact final state.
struct CountHandler: WorkerHandler {
    var input: String
    var output: String
    /// Tests only: a value `sleep:S` holds the handler for S seconds (a slow or stuck handler).
    var simulateStalls = false

    var inputTopics: [String] { [input] }

    func migrate(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("count-v1") { db in
            try db.execute(sql: "CREATE TABLE counts (key TEXT PRIMARY KEY, count INTEGER NOT NULL)")
        }
    }

    func handle(_ message: InboundMessage, in db: Database, context: HandlerContext) throws -> HandlerResult {
        guard let text = message.value.flatMap({ String(validating: $0, as: UTF8.self) }), !text.hasPrefix("!") else {
            // Deliberately echoes the payload: the runtime must mask any personal data in it.
            let shown = message.value.map { String(decoding: $0, as: UTF8.self) } ?? "<null>"
            return .deadLetter(cause: "cannot count value \(shown)")
        }
        // "retry:N" stands for a record whose prerequisite arrives later: not countable before attempt N.
        if text.hasPrefix("retry:"), let needed = Int(text.dropFirst("retry:".count)), message.attempt < needed {
            return .retry(reason: "attempt \(message.attempt) of \(needed)")
        }
        if simulateStalls, text.hasPrefix("sleep:"), let seconds = Double(text.dropFirst("sleep:".count)) {
            Thread.sleep(forTimeInterval: seconds)
        }
        let key = message.key.map { String(decoding: $0, as: UTF8.self) } ?? ""
        try db.execute(sql: "INSERT INTO counts (key, count) VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET count = count + 1",
                       arguments: [key])
        let count = try Int.fetchOne(db, sql: "SELECT count FROM counts WHERE key = ?", arguments: [key]) ?? 0
        return .done([OutboundMessage(topic: output, key: key, value: Array("\(key):\(count)".utf8), id: "count/\(key)/\(count)")])
    }
}

@main
struct CountWorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "count-worker",
        abstract: "A test worker: counts messages per key, effectively once.")

    @OptionGroup var options: WorkerOptions
    @Option(help: "Input topic.") var input = "test.input"
    @Option(help: "Output topic.") var output = "test.output"
    @Option(help: "Worker name (group card-<name>, dead letters' worker field).") var name = "count"
    @Flag(help: .hidden) var simulateStalls = false

    func run() async throws {
        try await WorkerMain.run(worker: name, handler: CountHandler(input: input, output: output, simulateStalls: simulateStalls), options: options)
    }
}
