import ArgumentParser
import CardDomain
import CardWorkers
import DemoWorld
import FleetSupport
import Foundation
import Kafka
import Logging
import WorkerRuntime

/// `fleet hostile`: hostile records on every topic the fleet reads; no crash, every record accounted for, no personal data in logs.
package struct HostileCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "hostile",
        abstract: "Publish generated hostile records to every topic the fleet reads and account for each one.",
        discussion: """
            Hosts an embedded broker, starts the four workers (identity with a short registry grace) and publishes --records \
            hostile records (see HostileGenerator): half to card.submission, the rest spread over card.bank-events, the three \
            internal topics, card.application-closed, registry.persons and bank.branches, round-robin over partitions so every \
            record's offset is known. Then it checks: no worker exited (nothing to restart); every card.submission record \
            produced exactly one of a status for its submission_id (ending `rejected` with reasons) or a card.dlq entry with \
            its source offset and a cause; the two size kinds (published with message.max.bytes raised to 1 MiB), exactly \
            one `rejected` status carrying SCHEMA_INVALID (the 20,000-element amplifier) or SUBMISSION_TOO_LARGE (the \
            1,040,000-byte submission); every record of the internal topics and card.bank-events a dead letter; a \
            card.application-closed record a dead letter, or nothing when it is well-formed (closing an unknown application \
            is a no-op); a registry.persons or bank.branches record that cannot be read is rejected: a log line naming its \
            offset and a dead letter with its cause; tombstones delete (no-op). Real people's data at the edges has one \
            right answer each: 7-digit fractions on the eve of an 18th birthday and null optional fields received, \
            middle-dot look-alikes and lower-case x registry records verified (the latter kept with a "reference record \
            normalised" log line), numbers of people not born yet rejected at intake. Finally no \
            ID number or mobile planted in the records appears in any worker log or dead-letter cause. Exit 1 on any violation.
            """)

    @Option(help: "Hostile records to publish (at least 1,000 for the contract check).") var records = 1200
    @Option(help: "Random seed; default random, printed.") var seed: UInt64?
    @Option(help: "Folder of topic specs; default: ./Topics or the repository's.") var topicsDir: String?
    @Option(help: "Work folder (state, logs); default: a fresh temporary folder, removed on success.") var workDir: String?
    @Option(help: "Stop waiting when nothing new arrived for this many seconds.") var settleSeconds = 20.0
    @Option(help: "Give up waiting after this many seconds.") var timeout = 300.0

    package init() {}

    package func validate() throws {
        guard records > 0 else { throw ValidationError("--records must be positive") }
    }

    package func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .critical  // librdkafka's disconnect lines at the end are not news
            return handler
        }
        let command = self
        let ok = try await OffPool.run("hostile") { try command.runBlocking() }
        if !ok { throw ExitCode.failure }
    }

    private struct Tally {
        var records = 0, deadLetters = 0, rejected = 0, noOps = 0, skippedLogged = 0, applied = 0, notJSONAfterAll = 0
    }

    private func runBlocking() throws -> Bool {
        let logger = Logger(label: "card.hostile")
        let seed = seed ?? UInt64.random(in: 1...UInt64(Int32.max))
        let directory = workDir.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("fleet-hostile-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let fleet = try FleetUnderTest(brokers: 1, topicsDirectory: try locateTopicsDirectory(topicsDir), directory: directory,
                                       workerArguments: ["identity": ["--registry-grace-seconds", "3"]], logger: logger)
        var generator = HostileGenerator(seed: seed, runID: SubmitCommand.randomRunID())
        let hostile = generator.records(count: records, partitions: fleet.partitions(of:))
        Terminal.say("hostile: embedded broker \(fleet.servers), seed \(seed), \(hostile.count) records over \(HostileGenerator.inputTopics.count) topics, work folder \(directory.path)")

        let collector = try OutputCollector(servers: fleet.servers, finals: ["rejected", "in_production"], logger: logger)
        collector.start()

        // Publish in order before any worker runs: per partition, record n lands at offset n (fresh topics, idempotent producer).
        let feeder = try Feeder(servers: fleet.servers, clientID: "hostile-feeder", extraProperties: HostileGenerator.feederProperties,
                                logger: logger)
        var offsets: [String: Int64] = [:]
        var located: [(record: HostileGenerator.Record, offset: Int64)] = []
        for record in hostile {
            let slot = "\(record.topic)/\(record.partition)"
            let offset = offsets[slot, default: 0]
            offsets[slot] = offset + 1
            located.append((record, offset))
            feeder.enqueue(ProducerRecord(topic: record.topic, partition: record.partition, key: record.key, value: record.value),
                           label: "\(record.topic) \(record.kind)")
        }
        try feeder.flush(timeout: .seconds(60))
        guard feeder.failed.isEmpty else {
            throw FleetRunError("\(feeder.failed.count) hostile record(s) not delivered, first: \(feeder.failed[0])")
        }
        let admin = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: fleet.servers), logger: logger)
        for (slot, count) in offsets {
            let parts = slot.split(separator: "/")
            let marks = try admin.watermarks(topic: String(parts[0]), partition: Int32(parts[1])!)
            guard marks.low == 0, marks.high == count else {
                throw FleetRunError("\(slot) holds offsets \(marks.low)..<\(marks.high), expected 0..<\(count): offsets not as published")
            }
        }
        // The workers start only now: intake writes card.identity-verification itself, and a record it
        // wrote while the feeder was still publishing there would shift the offsets checked above.
        try fleet.startAll()
        defer { fleet.stopAll(timeout: .seconds(10)) }
        try fleet.waitReady(timeout: .seconds(120), referenceSeeded: false)
        let sizes = hostile.compactMap { $0.value?.count }
        Terminal.say("published \(hostile.count) records (largest \(sizes.max() ?? 0) bytes, \(sizes.filter { $0 > 100_000 }.count) over 100 KB); waiting for the fleet's answers")

        // Wait: until nothing new for settleSeconds (identity's 3 s grace included), restarting any crashed worker.
        let start = ContinuousClock.now
        var lastChange = start
        var seen = (0, 0)
        var lastProgress = start
        while ContinuousClock.now - start < .seconds(timeout) {
            let counts = collector.counts()
            if (counts.statuses, counts.deadLetters) != seen { seen = (counts.statuses, counts.deadLetters); lastChange = .now }
            let restarted = try fleet.restartDead()
            if !restarted.isEmpty { Terminal.say("CRASH: restarted \(restarted.joined(separator: ", "))"); lastChange = .now }
            if (ContinuousClock.now - lastChange).seconds > settleSeconds { break }
            if ContinuousClock.now - lastProgress >= .seconds(3) {
                lastProgress = .now
                Terminal.say("[progress] \(RunFormat.seconds((ContinuousClock.now - start).seconds)) s: \(counts.deadLetters) dead letters, \(counts.statuses) statuses, \(counts.finalized) applications ended")
            }
            usleep(200_000)
        }
        let running = fleet.running
        let stopStatuses = fleet.stopAll()
        usleep(500_000)
        collector.stopReading()
        let state = collector.snapshot

        // MARK: Accounting
        var violations: [String] = []
        var dlqByOffset: [String: OutputCollector.DeadLetterCopy] = [:]
        for letter in state.deadLetters.values { dlqByOffset["\(letter.sourceTopic)/\(letter.partition)/\(letter.offset)"] = letter }
        var statusesByApplication: [String: [OutputCollector.StatusCopy]] = [:]
        for copy in state.statuses.values { statusesByApplication[copy.application, default: []].append(copy) }
        let logs = Dictionary(uniqueKeysWithValues: FleetUnderTest.workerNames.map { ($0, fleet.logText($0)) })
        let referenceLogs = (logs["identity"] ?? "") + "\n" + (logs["routing"] ?? "")
        let skipped = Self.skippedReferenceRecords(in: referenceLogs, message: "reference record rejected")
        let normalised = Self.skippedReferenceRecords(in: referenceLogs, message: "reference record normalised")

        var tallies: [String: Tally] = [:]
        var matchedDLQ = Set<String>()
        var knownIDs = Set<String>()
        var expectationMisses: [String] = []
        var sizeVerdicts: [String] = []
        for (record, offset) in located {
            let slot = "\(record.topic)/\(record.partition)/\(offset)"
            var tally = tallies[record.topic] ?? Tally()
            tally.records += 1
            let letter = dlqByOffset[slot]
            if letter != nil { matchedDLQ.insert(slot); tally.deadLetters += 1 }
            if let letter, letter.error.isEmpty { violations.append("dead letter for \(slot) without a cause") }
            let statuses = record.submissionID.flatMap { statusesByApplication[$0] } ?? []
            if let id = record.submissionID { knownIDs.insert(id) }
            let rejected = statuses.filter { $0.status == "rejected" }
            if !rejected.isEmpty { tally.rejected += 1 }
            func miss(_ what: String) { expectationMisses.append("\(slot) (\(record.kind)): \(what)") }
            switch record.expectation {
            case .rejectedStatus:
                // Exactly one of the two: the strict parser may still find the text not JSON (lone
                // surrogate escapes, raw control characters), and then a dead letter is right.
                if letter != nil && !statuses.isEmpty { miss("both a status and a dead letter") }
                else if letter != nil { tally.notJSONAfterAll += 1 }
                else if rejected.count != 1 { miss("expected one rejected status, got \(statuses.map(\.status))") }
                else if rejected[0].reasons == 0 { miss("rejected without reasons") }
                else if statuses.contains(where: { $0.status == "in_production" }) { miss("reached the card order") }
            case .rejectedSchemaInvalid, .rejectedTooLarge:
                let code = record.expectation == .rejectedSchemaInvalid ? "SCHEMA_INVALID" : "SUBMISSION_TOO_LARGE"
                if letter != nil { miss("dead-lettered, expected a rejected status") }
                if rejected.count != 1 { miss("expected one rejected status, got \(statuses.map(\.status))") }
                else if !rejected[0].codes.contains(code) { miss("rejected without \(code): \(rejected[0].codes.sorted())") }
                else { sizeVerdicts.append("\(record.kind): rejected with \(code), \(rejected[0].reasons) reasons in \(rejected[0].bytes) bytes") }
            case .deadLetter:
                if letter == nil { miss("no dead letter") }
                if !statuses.isEmpty { miss("statuses too: \(statuses.map(\.status))") }
            case .deadLetterOrNoOp:
                if letter == nil { tally.noOps += 1 }
            case .noOp:
                if letter != nil { miss("dead-lettered, expected a no-op") } else { tally.noOps += 1 }
            case .rejectedReference:
                if skipped.contains(slot) { tally.skippedLogged += 1 } else { miss("no 'reference record rejected' log line") }
                if letter == nil { miss("no dead letter for a rejected reference record") }
            case .rejectedOrApplied:
                if skipped.contains(slot) != (letter != nil) { miss("rejected without both its log line and its dead letter") }
                if skipped.contains(slot) { tally.skippedLogged += 1 } else { tally.applied += 1 }
            case .received:
                if letter != nil { miss("dead-lettered") }
                if !statuses.contains(where: { $0.status == "received" }) { miss("expected received, got \(statuses.map(\.status)) with \(rejected.first?.reasons ?? 0) reason(s)") }
            case .identityVerified:
                if !statuses.contains(where: { $0.status == "identity_verified" }) { miss("expected identity_verified, got \(statuses.map(\.status))") }
            case .rejectedAtIntake:
                if statuses.map(\.status) != ["rejected"] || rejected[0].seq != 1 || rejected[0].reasons == 0 {
                    miss("expected one rejected status from intake, got \(statuses.map(\.status))")
                }
            case .applied:
                if letter != nil { miss("dead-lettered, expected applied") } else { tally.applied += 1 }
            case .normalisedWithLog:
                if letter != nil { miss("dead-lettered, expected kept after normalisation") }
                if normalised.contains(slot) { tally.applied += 1 } else { miss("no 'reference record normalised' log line") }
            }
            tallies[record.topic] = tally
        }
        if !expectationMisses.isEmpty {
            violations.append("\(expectationMisses.count) record(s) not accounted for as required, e.g.\n    " + expectationMisses.prefix(8).joined(separator: "\n    "))
        }
        let strayDLQ = Set(dlqByOffset.keys).subtracting(matchedDLQ)
        if !strayDLQ.isEmpty { violations.append("\(strayDLQ.count) dead letter(s) for records never published, e.g. \(strayDLQ.sorted().prefix(3))") }
        let strayStatuses = statusesByApplication.keys.filter { !knownIDs.contains($0) }
        if !strayStatuses.isEmpty { violations.append("\(strayStatuses.count) status stream(s) for unknown application ids, e.g. \(strayStatuses.sorted().prefix(3))") }
        if !state.conflicts.isEmpty { violations.append("\(state.conflicts.count) message id(s) with different content") }
        if !state.readErrors.isEmpty { violations.append("read errors on the outputs: \(state.readErrors.prefix(3))") }

        // MARK: Crashes
        let crashes = fleet.unexpectedExits
        let notRunning = running.filter { !$0.value }.map(\.key)
        if !crashes.isEmpty { violations.append("worker(s) crashed: \(crashes)") }
        if !notRunning.isEmpty { violations.append("worker(s) not running at the end: \(notRunning.sorted())") }

        // MARK: Personal data
        var leaks: [String] = []
        let errors = state.deadLetters.values.map(\.error).joined(separator: "\n")
        for item in generator.personalData {
            for (name, text) in logs where text.contains(item) { leaks.append("\(name) log: \(Masking.idNumber(item))") }
            if errors.contains(item) { leaks.append("card.dlq error: \(Masking.idNumber(item))") }
        }
        if !leaks.isEmpty { violations.append("\(leaks.count) unmasked personal data occurrence(s): \(leaks.prefix(5))") }

        // MARK: Report
        Terminal.say("")
        Terminal.say("hostile figures: \(hostile.count) records published")
        let header = ["topic", "records", "dead letters", "rejected statuses", "no-ops", "reference rejected", "applied"]
        let rows = HostileGenerator.inputTopics.map { topic -> [String] in
            let t = tallies[topic] ?? Tally()
            return [topic, "\(t.records)", "\(t.deadLetters)", "\(t.rejected)", "\(t.noOps)", "\(t.skippedLogged)", "\(t.applied)"]
        }
        for line in RuntimeBench.TableFormat.render(header: header, rows: rows, rightAligned: [1, 2, 3, 4, 5, 6]) { Terminal.say(line) }
        let submission = tallies[CardTopics.submission] ?? Tally()
        Terminal.say("card.submission: \(submission.records) records = \(submission.rejected) rejected statuses with reasons + \(submission.deadLetters) dead letters (\(submission.notJSONAfterAll) of them with a usable submission_id but not JSON to intake's strict parser; \(submission.records - submission.rejected - submission.deadLetters) unaccounted)")
        for verdict in sizeVerdicts { Terminal.say("size: \(verdict)") }
        Terminal.say("crashes: \(crashes.values.reduce(0) { $0 + $1.count }) (restarts \(fleet.restarts.values.reduce(0, +))); graceful stop: " + FleetUnderTest.workerNames.map { "\($0) \(stopStatuses[$0].flatMap { $0 }.map(String.init) ?? "-")" }.joined(separator: ", "))
        Terminal.say("personal data: \(generator.personalData.count) planted ID numbers and mobiles, \(leaks.count) found unmasked in worker logs or dead-letter causes")
        Terminal.say("peak RSS: " + FleetUnderTest.workerNames.map { "\($0) \(RunFormat.mib(fleet.peakRSS[$0])) MiB" }.joined(separator: ", "))
        for violation in violations { Terminal.say("VIOLATION: \(violation)") }
        let ok = violations.isEmpty
        Terminal.say(ok ? "hostile: PASS (no crash, every record accounted for, no personal data in logs)" : "hostile: FAIL; logs kept in \(directory.path)")
        if ok && workDir == nil { try? FileManager.default.removeItem(at: directory) }
        return ok
    }

    /// `topic/partition/offset` of every log line with `message` ("reference record rejected",
    /// "reference record normalised", or the loader's "reference record skipped" for other failures).
    static func skippedReferenceRecords(in text: String, message: String = "reference record skipped") -> Set<String> {
        var out = Set<String>()
        for line in text.split(separator: "\n") where line.contains(message) {
            func value(_ key: String) -> String? {
                guard let range = line.range(of: key + "=") else { return nil }
                return String(line[range.upperBound...].prefix { !$0.isWhitespace })
            }
            if let topic = value(LogKey.topic), let partition = value(LogKey.partition), let offset = value(LogKey.offset) {
                out.insert("\(topic)/\(partition)/\(offset)")
            }
        }
        return out
    }
}
