import ArgumentParser
import CardDomain
import DemoWorld
import FleetSupport
import Foundation
import JSONCodec

/// `fleet bench-json` (hidden): what encoding the workers' messages costs with Foundation's
/// `JSONEncoder` and with ``CompactJSONEncoder`` (what `CardJSON.encode` uses).
///
/// Builds `--count` realistic messages from the demo generator, half `ApplicationEnvelope`
/// (at the identity, routing and production stages) and half `StatusEvent` (every status),
/// checks that both encoders write the same bytes for every one of them, then times each
/// encoder over all of them. Prints figures; asserts nothing about speed.
package struct BenchJSON: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bench-json",
        abstract: "Benchmark CardJSON.encode: Foundation JSONEncoder against CompactJSONEncoder.",
        shouldDisplay: false)

    @Option(help: "Messages to encode (half envelopes, half status events).") var count = 200_000
    @Option(help: "Distinct generated submissions the envelopes cycle through.") var submissions = 2_000
    @Option(help: "Generator seed.") var seed: UInt64 = 1
    @Option(help: "Time only this encoder (fresh, reused or compact) without the byte check, or only envelope decoding (decode): for a profiler.") var only: String?

    package init() {}

    package func validate() throws {
        guard count >= 2 else { throw ValidationError("--count must be at least 2") }
        guard submissions > 0 else { throw ValidationError("--submissions must be positive") }
        if let only, only != "decode", BenchJSONRun.encoderKeys.firstIndex(of: only) == nil {
            throw ValidationError("--only must be one of \((BenchJSONRun.encoderKeys + ["decode"]).joined(separator: ", "))")
        }
    }

    package func run() async throws {
        let count = count, submissions = submissions, seed = seed, only = only
        try await OffPool.run("bench-json") {
            try BenchJSONRun(count: count, submissions: submissions, seed: seed, only: only).run()
        }
    }
}

/// One benchmark run; synchronous, on a thread of its own.
private struct BenchJSONRun {
    let count: Int
    let submissions: Int
    let seed: UInt64
    let only: String?

    func run() throws {
        let pool = try makeSubmissions()
        let envelopes = (0..<(count / 2)).map { Self.envelope($0, pool[$0 % pool.count]) }
        let statuses = (0..<(count - count / 2)).map { Self.status($0, pool[$0 % pool.count]) }
        Terminal.say("bench-json: \(count) messages: \(envelopes.count) ApplicationEnvelope, \(statuses.count) StatusEvent "
            + "(\(pool.count) distinct submissions)")

        if only == "decode" {
            try measureDecoding(envelopes)
            return
        }
        if let only {
            // Profiling one encoder: only its work, no checks.
            let index = Self.encoderKeys.firstIndex(of: only)!
            for (name, results) in [("ApplicationEnvelope", try measure(envelopes, index)), ("StatusEvent", try measure(statuses, index))] {
                Terminal.say(name)
                report(results)
            }
            return
        }

        // Not timed: both encoders must agree byte for byte, and the fast path must not fall back.
        let envelopeBytes = try verify(envelopes)
        let statusBytes = try verify(statuses)
        Terminal.say("verified: all \(count) encodings byte-identical to JSONEncoder([.sortedKeys, .withoutEscapingSlashes]), "
            + "none fell back; mean size \(envelopeBytes / envelopes.count) B (envelope), \(statusBytes / statuses.count) B (status)")
        Terminal.say("")

        var totals: [String: (seconds: Double, messages: Int)] = [:]
        for (name, results) in [("ApplicationEnvelope", try measureAll(envelopes)), ("StatusEvent", try measureAll(statuses))] {
            Terminal.say(name)
            report(results)
            for result in results {
                totals[result.name, default: (0, 0)].seconds += result.seconds
                totals[result.name, default: (0, 0)].messages += result.messages
            }
        }
        Terminal.say("both")
        report(Self.encoderNames.map { Measurement(name: $0, seconds: totals[$0]!.seconds, messages: totals[$0]!.messages) })
        Terminal.say("")
        try measureDecoding(envelopes)
        Terminal.say("")
        try measureStageCuts(envelopes, pool)
    }

    /// CPU time of the calling thread, in seconds (`CLOCK_THREAD_CPUTIME_ID`, so other processes on a
    /// shared machine do not inflate it).
    static func threadCPUSeconds() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }

    /// Issue 14's per-message cuts, each against what it replaced, in CPU time of this thread
    /// (`CLOCK_THREAD_CPUTIME_ID`, so other processes on a shared machine do not inflate it).
    func measureStageCuts(_ envelopes: [ApplicationEnvelope], _ pool: [Submission]) throws {
        let cpu = Self.threadCPUSeconds
        func time(_ n: Int, _ body: (Int) throws -> Int) rethrows -> Double {
            var sink = 0
            for i in 0..<min(n, 1000) { sink &+= try body(i) }
            let start = cpu()
            for i in 0..<n { sink &+= try body(i) }
            precondition(sink != 0)
            return (cpu() - start) / Double(n) * 1e6
        }
        func line(_ name: String, before: Double, after: Double) {
            Terminal.say("  " + name + String(format: ": %.2f → %.2f µs CPU per message (%.2f µs saved)", before, after, before - after))
        }
        Terminal.say("stage cuts (issue 14), CPU µs per message, this thread")
        // Identity and routing: the next envelope re-encoded whole, or with the input's submission bytes.
        let inputs = try envelopes.map { try CardJSON.encodeBytes($0) }
        let nexts = envelopes.map { e -> ApplicationEnvelope in var n = e; n.seq += 1; n.routedAt = e.receivedAt; return n }
        for i in inputs.indices.prefix(200) {
            guard try nexts[i].encodedBytes(submission: RawJSON(member: "submission", ofObject: inputs[i])) == (try CardJSON.encodeBytes(nexts[i])) else {
                throw ValidationError("envelope #\(i): the spliced encoding differs from re-encoding")
            }
        }
        line("next envelope: re-encoded → submission bytes passed on",
             before: try time(inputs.count) { try CardJSON.encodeBytes(nexts[$0]).count },
             after: try time(inputs.count) { try nexts[$0].encodedBytes(submission: RawJSON(member: "submission", ofObject: inputs[$0])).count })
        // Identity, routing, production: the whole envelope decoded, or only the parts each stage reads.
        let stageInputs: [(String, ([UInt8]) throws -> Int)] = [
            ("identity", { try CardJSON.decode(IdentityInput.self, from: $0, selecting: IdentityInput.selection).head.seq }),
            ("routing", { try CardJSON.decode(RoutingInput.self, from: $0, selecting: RoutingInput.selection).head.seq }),
            ("production", { try CardJSON.decode(ProductionInput.self, from: $0, selecting: ProductionInput.selection).head.seq }),
        ]
        for (stage, decodeInput) in stageInputs {
            line("\(stage): input envelope decoded whole → only what \(stage) reads (JSONSelection)",
                 before: try time(inputs.count) { try CardJSON.decode(ApplicationEnvelope.self, from: inputs[$0]).seq + 1 },
                 after: try time(inputs.count) { try decodeInput(inputs[$0]) + 1 })
        }
        // Intake: the contract key's parse and the validator's parse, or one parse for both.
        let submissions = try pool.map { try CardJSON.encodeBytes($0) }
        line("intake: parse for the contract key + parse to validate → one parse",
             before: time(submissions.count * 4) { i in
                 let bytes = submissions[i % submissions.count]
                 return (ContractKeys.submission(bytes)?.count ?? 0) + (IntakeValidator.validate(bytes).deadLetterError == nil ? 1 : 0)
             },
             after: time(submissions.count * 4) { i in
                 let bytes = submissions[i % submissions.count]
                 let tree = JSONValue(parsing: bytes)
                 return (tree.flatMap(ContractKeys.submission(parsed:))?.count ?? 0)
                     + (IntakeValidator.validate(bytes, parsed: tree).deadLetterError == nil ? 1 : 0)
             })
        // Identity: four names compared per application; Foundation's NFKC ran on each.
        let names = pool.flatMap { [$0.agent.name, $0.applicant.name] }
        line("identity: a name's normalisation, Foundation's NFKC → skipped when NFKC changes nothing",
             before: time(names.count * 4) { i in
                 let name = names[i % names.count]
                 return name.precomposedStringWithCompatibilityMapping.utf8.count + PersonName.normalized(name).utf8.count
             },
             after: time(names.count * 4) { PersonName.normalized(names[$0 % names.count]).utf8.count })
    }

    /// What each worker pays per message on the way in: `CardJSON.decode` of an envelope.
    /// Envelope decoding as a stage does it (`CardJSON.decode`), and its two halves: the strict
    /// parser (bytes → `JSONValue`) and the tree decoder (`JSONValue` → model). Thread CPU time
    /// per message, µs, beside wall time.
    func measureDecoding(_ envelopes: [ApplicationEnvelope]) throws {
        let encoded = try envelopes.map { try CardJSON.encodeBytes($0) }
        let cpu = Self.threadCPUSeconds
        var decoded = 0
        let start = ContinuousClock.now
        let cpuStart = cpu()
        for bytes in encoded where try CardJSON.decode(ApplicationEnvelope.self, from: bytes).seq >= 0 { decoded += 1 }
        let cpuSeconds = cpu() - cpuStart
        let seconds = (ContinuousClock.now - start).seconds
        let parseStart = cpu()
        let trees = encoded.compactMap { JSONValue(parsing: $0) }
        let parseSeconds = cpu() - parseStart
        let treeStart = cpu()
        for tree in trees where try tree.decode(ApplicationEnvelope.self).seq >= 0 { decoded += 0 }
        let treeSeconds = cpu() - treeStart
        let n = Double(max(encoded.count, 1))
        Terminal.say("decoding (CardJSON.decode, strict parser + tree decoder)")
        Terminal.say("  ApplicationEnvelope: " + String(format: "%.0f decodes/s  %.2f µs/decode wall, %.2f µs CPU (parse %.2f, tree → model %.2f)",
                                                         Double(decoded) / seconds, seconds / n * 1e6, cpuSeconds / n * 1e6,
                                                         parseSeconds / n * 1e6, treeSeconds / n * 1e6))
    }

    // MARK: - Messages

    /// Valid generated submissions, decoded into the model.
    func makeSubmissions() throws -> [Submission] {
        let generator = SubmissionGenerator(options: .init(
            families: 2000, invalidShare: 0, lateShare: 0, seed: seed, runID: "benchjson"))
        let at = Timestamp(rfc3339: "2026-11-25T10:15:00+08:00")!
        let pool = (0..<submissions).compactMap { k in
            try? generator.make(k, at: Timestamp(secondsSinceEpoch: at.secondsSinceEpoch + Double(k) * 1.75)).value.decode(Submission.self)
        }
        guard !pool.isEmpty else { throw ValidationError("the generator made no decodable submission") }
        return pool
    }

    static func time(_ submission: Submission, plus seconds: Double) -> Timestamp {
        Timestamp(secondsSinceEpoch: submission.submittedAt.secondsSinceEpoch + seconds)
    }

    static func traceparent(_ i: Int) -> String {
        let hex = String(UInt64(truncatingIfNeeded: i) &* 0x9E37_79B9_7F4A_7C15, radix: 16)
        return "00-" + String(repeating: "0", count: 32 - hex.count) + hex + "-00f067aa0ba902b7-01"
    }

    /// An envelope as the identity, routing or production worker receives it.
    static func envelope(_ i: Int, _ submission: Submission) -> ApplicationEnvelope {
        let label = RelationshipLabel(relationship: submission.agent.relationship, applicantGender: submission.applicant.gender)
        let trace = i % 4 == 0 ? nil : traceparent(i)
        let received = time(submission, plus: 0.184)
        switch i % 3 {
        case 0:
            return ApplicationEnvelope(submission: submission, seq: 1, receivedAt: received, traceparent: trace)
        case 1:
            return ApplicationEnvelope(submission: submission, seq: 2, receivedAt: received, relationshipLabel: label,
                                       identityVerifiedAt: time(submission, plus: 0.42), traceparent: trace)
        default:
            return ApplicationEnvelope(submission: submission, seq: 3, receivedAt: received, relationshipLabel: label,
                                       identityVerifiedAt: time(submission, plus: 0.42), routedAt: time(submission, plus: 0.613),
                                       traceparent: trace)
        }
    }

    /// A status event of every kind the workers publish.
    static func status(_ i: Int, _ submission: Submission) -> StatusEvent {
        let id = submission.submissionID
        let label = RelationshipLabel(relationship: submission.agent.relationship, applicantGender: submission.applicant.gender)
        let bank = submission.card.bank, branch = submission.card.branch
        let ordered = time(submission, plus: 0.9)
        switch i % 6 {
        case 0:
            return StatusEvent(applicationID: id, status: .received, at: time(submission, plus: 0.184), seq: 1)
        case 1:
            return StatusEvent(applicationID: id, status: .identityVerified, relationshipLabel: label,
                               at: time(submission, plus: 0.42), seq: 2)
        case 2:
            return StatusEvent(applicationID: id, status: .routed, relationshipLabel: label, bank: bank, branch: branch,
                               at: time(submission, plus: 0.613), seq: 3)
        case 3:
            return StatusEvent(applicationID: id, status: .inProduction, relationshipLabel: label, bank: bank, branch: branch,
                               dueBy: ordered.adding(days: CardOrder.productionDays), at: ordered, seq: 4)
        case 4:
            return StatusEvent(applicationID: id, status: .readyForPickup, relationshipLabel: label, bank: bank, branch: branch,
                               dueBy: ordered.adding(days: CardOrder.productionDays), eCard: true,
                               at: time(submission, plus: 9 * 86_400 + 0.25), seq: 5)
        default:
            return StatusEvent(applicationID: id, status: .rejected,
                               reasons: [Reason(code: .relationshipNotConfirmed, field: "agent"),
                                         Reason(code: .householdMismatch, field: nil)],
                               at: time(submission, plus: 0.42), seq: 2)
        }
    }

    // MARK: - Measuring

    struct Measurement {
        var name: String
        var seconds: Double
        var messages: Int
    }

    static let encoderKeys = ["fresh", "reused", "compact"]
    static let encoderNames = ["JSONEncoder, new per message (CardJSON.encode before)", "JSONEncoder, one reused",
                               "CompactJSONEncoder (CardJSON.encode now)"]

    /// Encodes every value with both encoders; returns the total size.
    func verify<T: Encodable>(_ values: [T]) throws -> Int {
        let foundation = CardJSON.encoder()
        var total = 0
        for (i, value) in values.enumerated() {
            let expected = Array(try foundation.encode(value))
            let fast = try CompactJSONEncoder().encodeWithoutFallback(value)
            guard fast == expected else {
                throw ValidationError("""
                    \(T.self) #\(i) differs:
                    JSONEncoder:        \(String(decoding: expected, as: UTF8.self))
                    CompactJSONEncoder: \(String(decoding: fast, as: UTF8.self))
                    """)
            }
            total += fast.count
        }
        return total
    }

    func measureAll<T: Encodable>(_ values: [T]) throws -> [Measurement] {
        try Self.encoderNames.indices.flatMap { try measure(values, $0) }
    }

    /// Times encoder `index` of ``encoderNames`` over all `values`.
    func measure<T: Encodable>(_ values: [T], _ index: Int) throws -> [Measurement] {
        let reused = CardJSON.encoder()
        let encoders: [(T) throws -> Int] = [
            { try CardJSON.encoder().encode($0).count },
            { try reused.encode($0).count },
            { try CardJSON.encodeBytes($0).count },
        ]
        return try [(Self.encoderNames[index], encoders[index])].map { name, encode in
            // Warm up on a slice so the first timed pass does not pay for first-touch costs.
            // Indices rather than `for value in values`, which would copy (retain) every value.
            for i in values.indices.prefix(2_000) { _ = try encode(values[i]) }
            var sink = 0
            let clock = ContinuousClock()
            let start = clock.now
            for i in values.indices { sink &+= try encode(values[i]) }
            let elapsed = clock.now - start
            precondition(sink > 0)
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            return Measurement(name: name, seconds: seconds, messages: values.count)
        }
    }

    func report(_ results: [Measurement]) {
        func pad(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
        }
        func padLeft(_ text: String, _ width: Int) -> String {
            text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
        }
        for result in results {
            let rate = Double(result.messages) / result.seconds
            let micros = result.seconds * 1e6 / Double(result.messages)
            Terminal.say("  " + pad(result.name, 52) + padLeft(String(format: "%.0f encodes/s", rate), 20)
                + padLeft(String(format: "%.2f µs/encode", micros), 18))
        }
        guard results.count == Self.encoderNames.count, let compact = results.last else { return }
        let fresh = results[0].seconds / compact.seconds
        let reused = results[1].seconds / compact.seconds
        Terminal.say("  speedup: " + String(format: "%.1f× over a new JSONEncoder per message, %.1f× over a reused one", fresh, reused))
    }
}
