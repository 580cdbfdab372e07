import ArgumentParser
import CardDomain
import FleetSupport
import Foundation
import JSONCodec
import Logging

/// `fleet dlq`: dead letters as casework — list and group them, show one, replay a selection.
package struct DeadLetterCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "dlq",
        abstract: "Work through dead letters: list and group them by cause, show one, replay a selection after the cause is fixed.",
        discussion: """
            A dead letter's id is its place on card.dlq: card.dlq/<partition>/<offset> (shown by `list`). Every replay and every \
            reveal of personal data leaves an audit record on card.dlq-audit (what, when, why, by whom); a dead letter is replayed \
            at most once, and a replayed record that fails again becomes a new dead letter whose replay_of names its predecessor.
            """,
        subcommands: [List.self, Show.self, Replay.self])

    struct Connection: ParsableArguments {
        @Option(help: "Bootstrap servers; default: the embedded broker's <run-dir>/bootstrap.") var brokers: String?
        @Option(help: "Run folder of the embedded broker.") var runDir = "run"

        func casework() throws -> DeadLetterCasework {
            DeadLetterCasework(bootstrapServers: try brokers ?? BrokerList.embedded(runDir: runDir), logger: Logger(label: "card.dlq"))
        }
    }

    struct Selection: ParsableArguments {
        @Option(help: "Only dead letters of this worker (intake, identity, routing, production).") var worker: String?
        @Option(help: "Only dead letters from this source topic.") var sourceTopic: String?
        @Option(help: "Only dead letters whose cause contains this text (case-insensitive).") var cause: String?
        @Option(help: "Only dead letters written at or after this RFC 3339 time.") var since: String?
        @Option(help: "Only dead letters written at or before this RFC 3339 time.") var until: String?

        func filter(ids: [String] = []) throws -> DeadLetterFilter {
            func time(_ text: String?, _ name: String) throws -> Date? {
                guard let text else { return nil }
                guard let stamp = Timestamp(rfc3339: text) else { throw ValidationError("--\(name) needs an RFC 3339 time, got \(text)") }
                return stamp.date
            }
            return DeadLetterFilter(ids: Set(ids), worker: worker, sourceTopic: sourceTopic, cause: cause,
                                    since: try time(since, "since"), until: try time(until, "until"))
        }

        var isEmpty: Bool { worker == nil && sourceTopic == nil && cause == nil && since == nil && until == nil }
    }

    // MARK: - list

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List dead letters (newest last) and their counts grouped by cause.")
        @OptionGroup var connection: Connection
        @OptionGroup var selection: Selection
        @Option(help: "Show at most this many dead letters (the newest); the counts cover all that match.") var limit = 50
        @Flag(help: "One JSON object per dead letter (masked), then none of the table.") var json = false

        func run() async throws {
            let casework = try connection.casework()
            let filter = try selection.filter()
            let (entries, audit) = try await OffPool.run("dlq-list") { (try casework.deadLetters(), try casework.auditTrail()) }
            let matching = entries.filter(filter.matches).sorted { $0.letter.at < $1.letter.at }
            let replayed = Dictionary(audit.filter { $0.action == .replay }.map { ($0.deadLetter, $0) }) { first, _ in first }
            if json {
                for entry in matching.suffix(limit) {
                    let line: [String: JSONValue] = [
                        "id": .string(entry.id), "at": .string(entry.letter.at.description), "worker": .string(entry.letter.worker),
                        "source": .string("\(entry.letter.sourceTopic)/\(entry.letter.partition)/\(entry.letter.offset)"),
                        "key": entry.letter.key.map { .string(Masking.redact($0)) } ?? .null, "cause": .string(entry.letter.error),
                        "replayed": .bool(replayed[entry.id] != nil), "replay_of": entry.letter.replayOf.map { .string($0) } ?? .null,
                    ]
                    Terminal.say(String(decoding: try CardJSON.encode(JSONValue.object(line)), as: UTF8.self))
                }
                return
            }
            Terminal.say("\(matching.count) of \(entries.count) dead letters match; by cause:")
            let groups = Dictionary(grouping: matching, by: \.causeClass).sorted { $0.value.count > $1.value.count }
            for (cause, members) in groups {
                let workers = Set(members.map(\.letter.worker)).sorted().joined(separator: ",")
                let done = members.filter { replayed[$0.id] != nil }.count
                Terminal.say(String(format: "%7d  %@  [%@]%@", members.count, String(cause.prefix(100)), workers, done > 0 ? "  (\(done) replayed)" : ""))
            }
            guard !matching.isEmpty else { return }
            Terminal.say("")
            Terminal.say("id                  at                              worker      source                          key                   cause")
            for entry in matching.suffix(limit) {
                let source = "\(entry.letter.sourceTopic)/\(entry.letter.partition)/\(entry.letter.offset)"
                let mark = replayed[entry.id].map { " [replayed \($0.at) by \($0.operatorName)]" } ?? ""
                let chain = entry.letter.replayOf.map { " [replay of \($0)]" } ?? ""
                Terminal.say("\(entry.id.padding(19))\(entry.letter.at.description.padding(32))\(entry.letter.worker.padding(12))\(source.padding(32))"
                             + "\((entry.letter.key.map(Masking.redact) ?? "-").padding(22))\(entry.letter.error.prefix(120))\(mark)\(chain)")
            }
        }
    }

    // MARK: - show

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one dead letter with its record decoded; personal data masked unless --reveal.")
        @OptionGroup var connection: Connection
        @Argument(help: "The dead letter's id, card.dlq/<partition>/<offset>.") var id: String
        @Flag(help: "Show personal data unmasked. Needs --reason; the reveal is written to card.dlq-audit first.") var reveal = false
        @Option(help: "Why the personal data must be seen (with --reveal).") var reason: String?
        @Option(help: "Who is asking; default: the login name.") var operatorName = DeadLetterCommand.defaultOperator

        func validate() throws {
            if reveal, (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
                throw ValidationError("--reveal needs --reason: a reveal of personal data is audited with who and why")
            }
        }

        func run() async throws {
            let casework = try connection.casework()
            let wanted = id
            guard let entry = try await OffPool.run("dlq-show", { try casework.deadLetters().first { $0.id == wanted } }) else {
                throw ValidationError("no dead letter \(id) on card.dlq (ids look like card.dlq/<partition>/<offset>; see `fleet dlq list`)")
            }
            if reveal { try await casework.recordReveal(of: entry, reason: reason ?? "", operatorName: operatorName) }
            let letter = entry.letter
            Terminal.say("dead letter  \(entry.id)\(reveal ? "   (personal data REVEALED; audited)" : "")")
            Terminal.say("at           \(letter.at)")
            Terminal.say("worker       \(letter.worker)")
            Terminal.say("source       \(letter.sourceTopic) partition \(letter.partition) offset \(letter.offset)")
            Terminal.say("key          \(letter.key.map { reveal ? $0 : Masking.redact($0) } ?? "(none)")")
            Terminal.say("cause        \(letter.error)")
            if let from = letter.replayOf { Terminal.say("replay of    \(from)") }
            guard let payload = letter.payload else { Terminal.say("payload      (not base64)"); return }
            if let document = JSONValue(parsing: payload) {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                let shown = reveal ? document : Masking.json(document)
                Terminal.say("payload      \(payload.count) bytes, JSON\(reveal ? "" : " (masked)"):")
                Terminal.say(String(decoding: try encoder.encode(shown), as: UTF8.self))
            } else if reveal {
                Terminal.say("payload      \(payload.count) bytes, not JSON; first bytes as text:")
                Terminal.say(String(decoding: payload.prefix(2000), as: UTF8.self))
            } else {
                // Not JSON (or cut): no field names to mask by, and names or addresses cannot be
                // recognised by shape, so nothing of it is shown without --reveal.
                Terminal.say("payload      \(payload.count) bytes, not JSON\(letter.payloadTruncated == true ? " (cut)" : ""); shown only with --reveal"
                             + (letter.payloadSHA256.map { "; sha256 of the whole \($0)" } ?? ""))
            }
        }
    }

    // MARK: - replay

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay dead letters to their source topics with their original keys, optionally repaired by a JSON Patch.",
            discussion: """
                Select by ids and/or the filters. Each dead letter is sent at most once (card.dlq-audit remembers); every replay \
                writes an audit record with the reason and the operator. --patch applies an RFC 6902 JSON Patch to each payload \
                first and prints the change (masked) before sending; --dry-run prints what would be sent and sends nothing.
                """)
        @OptionGroup var connection: Connection
        @OptionGroup var selection: Selection
        @Argument(help: "Dead letter ids, card.dlq/<partition>/<offset>.") var ids: [String] = []
        @Option(help: "File holding an RFC 6902 JSON Patch to apply to each payload before it is sent.") var patch: String?
        @Option(help: "Why these dead letters are replayed (required; kept in the audit record).") var reason: String
        @Option(help: "Who replays; default: the login name.") var operatorName = DeadLetterCommand.defaultOperator
        @Flag(help: "Show what would be sent; send nothing, audit nothing.") var dryRun = false

        func validate() throws {
            if ids.isEmpty && selection.isEmpty { throw ValidationError("select dead letters: give ids, or --worker/--source-topic/--cause/--since/--until") }
            if reason.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--reason must say why") }
        }

        func run() async throws {
            let casework = try connection.casework()
            let filter = try selection.filter(ids: ids)
            let jsonPatch = try patch.map { path -> JSONPatch in
                guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read --patch \(path)") }
                return try JSONPatch(parsing: data)
            }
            let selected = try await OffPool.run("dlq-replay") { try casework.deadLetters().filter(filter.matches) }
            let missing = Set(ids).subtracting(selected.map(\.id))
            if !missing.isEmpty { Terminal.error("not on card.dlq (or not matching the filters): \(missing.sorted().joined(separator: ", "))") }
            let outcomes = try await casework.replay(selected, patch: jsonPatch, reason: reason, operatorName: operatorName, dryRun: dryRun)
            var failed = !missing.isEmpty
            for outcome in outcomes {
                switch outcome {
                case .replayed(let id, let topic, let diff), .wouldReplay(let id, let topic, let diff):
                    let verb = dryRun ? "would replay" : "replayed"
                    Terminal.say("\(verb) \(id) → \(topic)")
                    for line in diff { Terminal.say("    \(line)") }
                case .alreadyReplayed(let id, let at, let by):
                    Terminal.say("skipped \(id): already replayed at \(at) by \(by)")
                case .refused(let id, let why):
                    failed = true
                    Terminal.error("not replayed \(id): \(why)")
                }
            }
            if selected.isEmpty { Terminal.say("no dead letter matches") }
            if failed { throw ExitCode(1) }
        }
    }

    static var defaultOperator: String { ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "unknown" }

    package init() {}
}

private extension String {
    func padding(_ width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
