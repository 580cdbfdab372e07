import ArgumentParser
import CardDomain
import FleetSupport
import Foundation
import JSONCodec
import Kafka
import Logging

/// `fleet submit`: publishes submissions to card.submission, from a file or generated for the demo families.
package struct SubmitCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Publish submissions to card.submission: from a JSON file (or - for stdin), or generated with --generate N.",
        discussion: """
            FILE holds one submission or an array of them; each is keyed by applicant.id_number. A record that is not \
            an object (or has no usable applicant.id_number) is still published as it is, without a key, so intake can \
            dead-letter it. --generate makes realistic submissions for the families `fleet seed` published (same \
            --families), a share of them broken in ways intake reports (--invalid-share) and a share that passes intake \
            and is rejected later, at identity or routing (--late-share). Ids look like web-20261125-<run>-000123.
            """)

    @Argument(help: "JSON file with a submission or an array of them; - reads stdin.") var file: String?
    @Option(help: "Bootstrap servers; default: the embedded broker's <run-dir>/bootstrap.") var brokers: String?
    @Option(help: "Run folder of the embedded broker.") var runDir = "run"
    @Option(help: "Generate this many submissions instead of reading a file.") var generate: Int?
    @Option(help: "Share of generated submissions that intake rejects.") var invalidShare = 0.1
    @Option(help: "Share of generated submissions rejected after intake (identity or routing).") var lateShare = 0.03
    @Option(help: "Submissions per second (default: as fast as possible).") var rate: Double?
    @Option(help: "Random seed of the generator (default: random; printed so a run can be repeated).") var seed: UInt64?
    @Option(help: "Run-unique part of generated submission ids (default: random).") var runID: String?
    @Option(help: "Demo families to draw from; use the number given to `fleet seed`.") var families = 2000
    @Flag(help: "Print each generated submission's id and expected outcome.") var list = false

    package init() {}

    package func validate() throws {
        guard (file == nil) != (generate == nil) else { throw ValidationError("give either FILE or --generate N") }
        if let generate, generate < 0 { throw ValidationError("--generate must not be negative") }
        guard (0...1).contains(invalidShare), (0...1).contains(lateShare), invalidShare + lateShare <= 1 else {
            throw ValidationError("--invalid-share and --late-share are shares between 0 and 1, together at most 1")
        }
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive") }
        guard families > 0 else { throw ValidationError("--families must be positive") }
        if let runID, !Catalogues.isSubmissionID(runID) || runID.count > 24 {
            throw ValidationError("--run-id must be 1-24 of [A-Za-z0-9_-]")
        }
    }

    package func run() async throws {
        let servers = try brokers ?? BrokerList.embedded(runDir: runDir)
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(bootstrapServers: servers, clientID: "fleet-submit")),
            logger: Logger(label: "card.submit"))
        if let file {
            try await submitFile(file, producer: producer)
        } else if let generate {
            try await submitGenerated(generate, producer: producer)
        }
    }

    // MARK: - From a file

    private func submitFile(_ path: String, producer: KafkaProducer) async throws {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let contents = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
            data = contents
        }
        let outgoing = FileSubmissions.records(from: data)
        let records = outgoing.map { ProducerRecord(topic: "card.submission", key: $0.key.map { Array($0.utf8) }, value: Array($0.value)) }
        // A record over the producer's limit is refused before it is sent, with its size named
        // (librdkafka's bare MSG_SIZE_TOO_LARGE said neither which record nor by how much).
        let limit = producer.messageMaxBytes
        let tooLarge = records.map { KafkaProducer.wireSize(of: $0) > limit }
        var results = await producer.send(zip(records, tooLarge).filter { !$0.1 }.map(\.0))
        for (index, over) in tooLarge.enumerated() where over {
            results.insert(KafkaError(code: .produce, reason: "a record of \(records[index].value?.count ?? 0) bytes "
                + "(\(KafkaProducer.wireSize(of: records[index])) with key, headers and framing) is over the producer's "
                + "message.max.bytes (\(limit)); not sent (intake accepts submissions up to \(SubmissionSize.maxBytes) bytes)"), at: index)
        }
        for (number, (item, error)) in zip(outgoing, results).enumerated() {
            let head = "\(number + 1)/\(outgoing.count)"
            if let error {
                Terminal.error("\(head) NOT delivered: \(item.description): \(error)")
            } else {
                Terminal.say("\(head) sent \(item.description)")
            }
        }
        let failed = results.compactMap { $0 }.count
        guard failed == 0 else { throw ExitCode(1) }
    }

    // MARK: - Generated

    private func submitGenerated(_ count: Int, producer: KafkaProducer) async throws {
        let seed = seed ?? UInt64.random(in: 1...UInt64(Int64.max))
        let runID = runID ?? Self.randomRunID()
        let generator = SubmissionGenerator(options: .init(
            families: families, invalidShare: invalidShare, lateShare: lateShare, seed: seed, runID: runID))
        if count > generator.children.count {
            Terminal.error("note: \(count) submissions for \(generator.children.count) children: past that the run applies for children again (DUPLICATE_ACTIVE_APPLICATION)")
        }
        Terminal.say("generating \(count) submission(s) for \(families) demo families: run \(runID), seed \(seed)\(rate.map { ", \($0)/s" } ?? "")")

        var summary = SubmitSummary()
        let clock = ContinuousClock()
        let started = clock.now
        var next = 0
        while next < count {
            // How many may be out by now: everything when unlimited, rate × elapsed otherwise.
            let allowed: Int
            if let rate {
                let elapsed = clock.now - started
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                allowed = min(count, Int(seconds * rate) + 1)
            } else {
                allowed = count
            }
            let batchEnd = min(allowed, next + 2000)
            if batchEnd > next {
                let at = Timestamp.now()
                let batch = (next..<batchEnd).map { generator.make($0, at: at) }
                let results = await producer.send(batch.map {
                    ProducerRecord(topic: "card.submission", key: Array($0.key.utf8), value: Array($0.bytes))
                })
                for (item, error) in zip(batch, results) {
                    summary.add(item, delivered: error == nil)
                    if let error { Terminal.error("\(item.submissionID) NOT delivered: \(error)") }
                    if list { Terminal.say("\(item.submissionID) \(item.channel.rawValue) key \(Masking.idNumber(item.key)): expect \(item.expected)") }
                }
                next = batchEnd
            }
            if rate != nil && next < count { try await Task.sleep(for: .milliseconds(20)) }
        }
        Terminal.say(summary.render(elapsed: clock.now - started))
        if summary.failed > 0 { throw ExitCode(1) }
    }

    package static func randomRunID() -> String {
        let alphabet = Array("abcdefghijkmnpqrstuvwxyz23456789")
        return String((0..<6).map { _ in alphabet.randomElement()! })
    }
}

// MARK: - File records

/// What `fleet submit FILE` publishes for a file's content.
enum FileSubmissions {
    struct Outgoing: Sendable {
        var key: String?
        var value: Data
        var submissionID: String?
        var note: String?

        /// What was sent, without personal data: the id, the masked key, the size.
        var description: String {
            var text = "submission_id=\(submissionID ?? "<none>") key=\(key.map(Masking.idNumber) ?? "<none>") (\(value.count) bytes)"
            if let note { text += ": " + note }
            return text
        }
    }

    /// One record per array element (or one for a single value); text that is not JSON is sent whole.
    static func records(from data: Data) -> [Outgoing] {
        guard let root = JSONValue(parsing: data) else {
            return [Outgoing(key: nil, value: data, submissionID: nil, note: "not JSON: sent as it is, intake will dead-letter it")]
        }
        if case .array(let items) = root {
            return items.map { outgoing(for: $0, bytes: (try? CardJSON.encode($0)) ?? Data()) }
        }
        return [outgoing(for: root, bytes: data)]
    }

    private static func outgoing(for value: JSONValue, bytes: Data) -> Outgoing {
        guard case .object = value else {
            return Outgoing(key: nil, value: bytes, submissionID: nil,
                            note: "a JSON \(value.typeName), not an object: sent as it is, intake will dead-letter it")
        }
        let key = value["applicant"]?["id_number"]?.stringValue
        let id = value["submission_id"]?.stringValue
        var note: String?
        if key == nil { note = "no applicant.id_number: sent without a key" }
        if id.map(Catalogues.isSubmissionID) != true { note = "no usable submission_id: intake will dead-letter it" }
        return Outgoing(key: key, value: bytes, submissionID: id, note: note)
    }
}

// MARK: - Summary

struct SubmitSummary {
    var byChannel: [Channel: Int] = [:]
    var byExpected: [SubmissionGenerator.Expected: Int] = [:]
    var sent = 0
    var failed = 0

    mutating func add(_ item: SubmissionGenerator.Generated, delivered: Bool) {
        guard delivered else {
            failed += 1
            return
        }
        sent += 1
        byChannel[item.channel, default: 0] += 1
        byExpected[item.expected, default: 0] += 1
    }

    func render(elapsed: Duration) -> String {
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        var lines = ["sent \(sent) submission(s) to card.submission in \(String(format: "%.1f", seconds)) s\(failed > 0 ? ", \(failed) NOT delivered" : "")"]
        lines.append("  by channel:")
        for channel in Channel.allCases {
            lines.append("    \(channel.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) \(byChannel[channel, default: 0])")
        }
        lines.append("  by expected outcome:")
        for (expected, n) in byExpected.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }) {
            lines.append("    \(String(n).padding(toLength: 6, withPad: " ", startingAt: 0)) \(expected)")
        }
        lines.append("  (a child who already has an active application from an earlier run is DUPLICATE_ACTIVE_APPLICATION at intake)")
        return lines.joined(separator: "\n")
    }
}
