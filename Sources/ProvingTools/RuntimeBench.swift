import ArgumentParser
import FleetSupport
import Foundation
import Kafka
import Logging
import Synchronization

/// `fleet bench-runtime`: what the effectively-once runtime costs over a raw Kafka relay.
///
/// One embedded cluster, hosted here; one input produced once; then, per batch size, two child
/// processes in turn, each reading the whole input with a fresh group into a fresh output topic:
/// `fleet bench-relay` (consume → produce, nothing else) and `count-worker` (consume → SQLite
/// transaction → outbox → produce). Prints figures; asserts nothing about speed.
package struct RuntimeBench: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bench-runtime",
        abstract: "Benchmark the worker runtime (count-worker) against a raw consume→produce relay.",
        discussion: """
            Hosts an embedded broker, produces --messages records once, then for each batch size runs \
            `fleet bench-relay` and `count-worker` as child processes over that input, each into its own \
            output topic with its own group, and waits until the output topic holds as many records as the \
            input. Reports messages/s over the whole run (process start to last output) and over the steady \
            window (first to last output), and each child's peak RSS. Exits non-zero if an output falls short.
            The embedded broker keeps only the newest ~5 MiB per partition: the input must stay under \
            4 MiB per partition (--messages × --message-bytes / --partitions).
            """)

    @Option(help: "Input records.") var messages = 100_000
    @Option(help: "Size of each record's value in bytes (JSON-like text).") var messageBytes = 500
    @Option(help: "Partitions of the input and of every output topic.") var partitions: Int32 = 12
    @Option(help: "Distinct record keys.") var keys = 10_000
    @Option(help: "Comma-separated batch sizes (poll batch of the relay, --batch-size of the worker).") var batchSizes = "50,500,2000"
    @Option(help: "Give up on a run after this many seconds.") var timeout = 900
    @Option(help: "Give up on a run when its output has not grown for this many seconds.") var stallTimeout = 120
    @Option(help: "Folder for the workers' state and the children's logs; default: a fresh temporary folder.") var workDir: String?
    @Flag(help: "Keep the work folder (it is kept anyway when a run fails).") var keepWorkDir = false
    @Option(help: "Also write the results as JSON to this file.") var json: String?

    /// The embedded broker keeps ~5 MiB per partition; stay clear of it.
    static let maxInputBytesPerPartition = 4 * 1024 * 1024

    var parsedBatchSizes: [Int] {
        batchSizes.split(whereSeparator: { $0 == "," || $0 == " " }).compactMap { Int($0) }
    }

    package init() {}

    package func validate() throws {
        guard messages > 0 else { throw ValidationError("--messages must be positive") }
        guard messageBytes >= 16 else { throw ValidationError("--message-bytes must be at least 16") }
        guard partitions > 0 else { throw ValidationError("--partitions must be positive") }
        guard keys > 0 else { throw ValidationError("--keys must be positive") }
        let sizes = batchSizes.split(whereSeparator: { $0 == "," || $0 == " " })
        guard !sizes.isEmpty, sizes.allSatisfy({ Int($0).map { $0 > 0 } ?? false }) else {
            throw ValidationError("--batch-sizes needs positive integers separated by commas, got '\(batchSizes)'")
        }
        guard timeout > 0, stallTimeout > 0 else { throw ValidationError("--timeout and --stall-timeout must be positive") }
        let total = Double(messages) * Double(messageBytes)
        let perPartition = total / Double(partitions)
        if perPartition > Double(Self.maxInputBytesPerPartition) {
            let needed = Int((total / Double(Self.maxInputBytesPerPartition)).rounded(.up))
            throw ValidationError("""
                input too large for the embedded broker: \(messages) × \(messageBytes) bytes / \(partitions) partitions \
                = \(Format.mib(perPartition)) MiB per partition, over the \(Format.mib(Double(Self.maxInputBytesPerPartition))) MiB limit. \
                The broker keeps only the newest ~5 MiB per partition, so the consumers, started after the input is produced, \
                would find its oldest records gone. Use --partitions \(needed) or more, or fewer --messages / --message-bytes.
                """)
        }
    }

    package func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let logger = Logger(label: "card.bench")
        let sizes = parsedBatchSizes

        let relayExecutable = BuildProducts.executable("fleet")
        let workerExecutable = BuildProducts.executable("count-worker")
        for executable in [relayExecutable, workerExecutable] where !FileManager.default.isExecutableFile(atPath: executable.path) {
            throw ValidationError("\(executable.lastPathComponent) not found at \(executable.path): build it first (swift build --product \(executable.lastPathComponent))")
        }

        let directory = workDir.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("fleet-bench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        let cluster = try EmbeddedCluster(logger: logger)
        let client = KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers, clientID: "card-bench")
        let admin = try KafkaAdmin(configuration: client, embedded: cluster, logger: logger)
        let input = "bench.input"
        try cluster.createTopic(TopicSpec(name: input, partitions: partitions))
        // The worker sends poison records there; the bench's input has none, but the topic must exist.
        try cluster.createTopic(TopicSpec(name: "card.dlq", partitions: 2))

        benchPrint("runtime bench: embedded broker \(cluster.bootstrapServers), work folder \(directory.path)")
        benchPrint("input: \(messages) records × \(messageBytes) bytes, \(keys) keys, \(partitions) partitions; batch sizes \(sizes.map(String.init).joined(separator: ", "))")
        benchPrint("  relay:  \(relayExecutable.path)")
        benchPrint("  worker: \(workerExecutable.path)")

        // MARK: Input, produced once
        let generationStart = ContinuousClock.now
        let records = InputGenerator(keys: keys, valueBytes: messageBytes).records(topic: input, count: messages)
        benchPrint("generated \(records.count) records in \(Format.seconds(ContinuousClock.now - generationStart)) s; producing…")
        let produce = try await produceInput(records, cluster: cluster, client: client, logger: logger)
        benchPrint("produced \(messages) records in \(Format.seconds(produce.duration)) s: \(Format.rate(produce.rate)) msgs/s")
        let inputPartitions = try await benchOnThread("bench-watermarks") { [partitions] in
            try Self.watermarks(admin, topic: input, partitions: partitions)
        }
        let inputCount = inputPartitions.reduce(0) { $0 + $1.high }
        guard inputCount == Int64(messages), inputPartitions.allSatisfy({ $0.low == 0 }) else {
            throw ValidationError("input topic holds \(inputCount) records (low watermarks \(inputPartitions.map(\.low))), expected \(messages) from offset 0")
        }
        let fullest = inputPartitions.map(\.high).max() ?? 0
        benchPrint("input per partition: \(inputPartitions.map(\.high).min() ?? 0)…\(fullest) records (fullest ≈ \(Format.mib(Double(fullest) * Double(messageBytes))) MiB raw before lz4)")

        // MARK: Runs
        var results: [RunResult] = []
        let plan = RunPlan(cluster: cluster, admin: admin, input: input, target: Int64(messages), partitions: partitions,
                           directory: directory, timeout: .seconds(timeout), stallTimeout: .seconds(stallTimeout),
                           relayExecutable: relayExecutable, workerExecutable: workerExecutable)
        for size in sizes {
            for variant in Variant.allCases {
                benchPrint("[\(variant.rawValue) batch \(size)] starting")
                let result = try await benchOnThread("bench-run") { try plan.measure(variant, batchSize: size) }
                benchPrint("[\(variant.rawValue) batch \(size)] \(result.summary)")
                results.append(result)
            }
        }

        // MARK: Report
        let report = Report(messages: messages, messageBytes: messageBytes, partitions: partitions, keys: keys,
                            producedSeconds: produce.duration.seconds, producedRate: produce.rate, runs: results)
        benchPrint("")
        benchPrint(report.table())
        if let json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            try encoder.encode(report).write(to: URL(fileURLWithPath: json))
            benchPrint("results written to \(json)")
        }
        withExtendedLifetime(cluster) {}

        let failed = results.filter { !$0.ok }
        if !failed.isEmpty {
            for run in failed { benchPrint("FAILED: \(run.variant) batch \(run.batchSize): \(run.problem ?? "unknown")") }
            benchPrint("work folder kept for the logs: \(directory.path)")
            throw ExitCode.failure
        }
        if !keepWorkDir && workDir == nil { try? FileManager.default.removeItem(at: directory) }
    }

    // MARK: - Producing the input

    private struct ProduceFigures { var duration: Duration; var rate: Double }

    /// Sends the input in chunks, a few in flight at once, each awaiting its delivery reports.
    private func produceInput(_ records: [ProducerRecord], cluster: EmbeddedCluster, client: KafkaClientConfiguration, logger: Logger) async throws -> ProduceFigures {
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client), logger: logger)
        // Warm up first (connections, the idempotent producer id, metadata: about a second on the
        // embedded broker), so the figure is the producing rate, not the start-up.
        let warmUp = "bench.warm-up"
        try cluster.createTopic(TopicSpec(name: warmUp, partitions: 1))
        if let error = await producer.send([ProducerRecord(topic: warmUp, key: nil, value: Array("warm-up".utf8))])[0] {
            throw ValidationError("warm-up record not delivered: \(error)")
        }
        let chunkSize = 5_000
        let chunks = stride(from: 0, to: records.count, by: chunkSize).map { Array(records[$0..<min($0 + chunkSize, records.count)]) }
        let start = ContinuousClock.now
        let failures = await withTaskGroup(of: [KafkaError].self) { group in
            var failures: [KafkaError] = []
            var next = 0
            let inFlight = 4
            while next < min(inFlight, chunks.count) {
                let chunk = chunks[next]
                group.addTask { await producer.send(chunk).compactMap { $0 } }
                next += 1
            }
            while let failed = await group.next() {
                failures += failed
                if next < chunks.count {
                    let chunk = chunks[next]
                    group.addTask { await producer.send(chunk).compactMap { $0 } }
                    next += 1
                }
            }
            return failures
        }
        let duration = ContinuousClock.now - start
        if let first = failures.first {
            throw ValidationError("input production failed: \(failures.count) record(s) not delivered, first: \(first)")
        }
        return ProduceFigures(duration: duration, rate: Double(records.count) / max(duration.seconds, 1e-9))
    }

    static func watermarks(_ admin: KafkaAdmin, topic: String, partitions: Int32) throws -> [(low: Int64, high: Int64)] {
        let keys = (0..<partitions).map { TopicPartitionOffset(topic: topic, partition: $0) }
        let marks = try admin.watermarks(keys, timeout: .seconds(10))
        return try keys.map { key in
            guard let m = marks[key] else { throw KafkaError(code: .metadata, reason: "watermarks \(key): no answer") }
            return m
        }
    }
}

// Helpers nested in RuntimeBench: `fleet` is one module shared with other commands.
extension RuntimeBench {
    // MARK: - One measurement

    enum Variant: String, CaseIterable, Codable, Sendable {
        case relay, worker
    }

    /// Everything a run needs; `measure` blocks, so it runs on a thread of its own.
    struct RunPlan: Sendable {
        let cluster: EmbeddedCluster
        let admin: KafkaAdmin
        let input: String
        let target: Int64
        let partitions: Int32
        let directory: URL
        let timeout: Duration
        let stallTimeout: Duration
        let relayExecutable: URL
        let workerExecutable: URL

        static let pollInterval: Duration = .milliseconds(100)

        /// Starts the child, waits until its output topic holds `target` records, reads its peak RSS, stops it.
        func measure(_ variant: Variant, batchSize: Int) throws -> RunResult {
            let tag = "\(variant.rawValue)-b\(batchSize)"
            let unique = UUID().uuidString.prefix(8).lowercased()
            let output = "bench.output.\(tag).\(unique)"
            let group = "bench-\(tag)-\(unique)"
            try cluster.createTopic(TopicSpec(name: output, partitions: partitions))
            let logFile = directory.appendingPathComponent("\(tag)-\(unique).log")
            let brokers = cluster.bootstrapServers

            let executable: URL
            let arguments: [String]
            switch variant {
            case .relay:
                executable = relayExecutable
                arguments = ["bench-relay", "--brokers", brokers, "--from", input, "--to", output,
                             "--group", group, "--batch-size", "\(batchSize)"]
            case .worker:
                executable = workerExecutable
                arguments = ["--brokers", brokers, "--input", input, "--output", output, "--name", "bench-\(tag)",
                             "--group-id", group, "--batch-size", "\(batchSize)",
                             "--state-dir", directory.appendingPathComponent("state-\(tag)-\(unique)").path]
            }

            var result = RunResult(variant: variant, batchSize: batchSize, target: target, outputTopic: output, logFile: logFile.path)
            let start = ContinuousClock.now
            let child = try ChildProcess(name: tag, executable: executable, arguments: arguments, logFile: logFile)
            var first: (at: ContinuousClock.Instant, count: Int64)?
            var last: ContinuousClock.Instant?
            var count: Int64 = 0
            var lastGrowth = start
            var lastProgress = start
            var nextPoll = start
            while true {
                let now = ContinuousClock.now
                let sum: Int64
                do {
                    sum = try RuntimeBench.watermarks(admin, topic: output, partitions: partitions).reduce(0) { $0 + $1.high }
                } catch {
                    result.problem = "cannot read the output's watermarks: \(error)"
                    break
                }
                if sum > count { lastGrowth = now }
                count = sum
                if count > 0 && first == nil { first = (now, count) }
                if count >= target { last = now; break }
                if !child.isRunning {
                    result.problem = "\(variant.rawValue) exited early with status \(child.exitStatus.map(String.init) ?? "?") at \(count)/\(target) records"
                    break
                }
                if now - start > timeout {
                    result.problem = "timed out after \(timeout) at \(count)/\(target) records"
                    break
                }
                if now - lastGrowth > stallTimeout {
                    result.problem = "no progress for \(stallTimeout) at \(count)/\(target) records"
                    break
                }
                if now - lastProgress >= .seconds(2) {
                    lastProgress = now
                    let elapsed = (now - start).seconds
                    benchPrint("  [\(tag)] \(count)/\(target) output records after \(Format.seconds(now - start)) s (\(Format.rate(Double(count) / elapsed)) msgs/s so far)")
                }
                nextPoll += Self.pollInterval
                let wait = nextPoll - ContinuousClock.now
                if wait > .zero { Thread.sleep(forTimeInterval: wait.seconds) }
            }

            // Read the high-water mark just before stopping: it is the run's peak. CPU time likewise.
            result.peakRSSBytes = child.peakRSS
            result.cpuSeconds = ProcessCPU.seconds(pid: child.pid)
            child.signal(SIGTERM)
            var status = child.wait(timeout: .seconds(30))
            if status == nil {
                child.signal(SIGKILL)
                status = child.wait(timeout: .seconds(10))
                result.problem = result.problem ?? "did not stop within 30 s of SIGTERM (killed)"
            }
            result.exitStatus = status
            if result.problem == nil, let status, status != 0 {
                result.problem = "exited with status \(status) after SIGTERM"
            }

            result.outputCount = count
            let end = last ?? ContinuousClock.now
            result.wallSeconds = (end - start).seconds
            if let first {
                result.firstOutputSeconds = (first.at - start).seconds
                if let last, last > first.at {
                    result.steadySeconds = (last - first.at).seconds
                    // Records that arrived inside the window: those seen at its first poll were already there.
                    result.steadyRate = Double(target - first.count) / (last - first.at).seconds
                }
            }
            if last != nil { result.totalRate = Double(target) / result.wallSeconds }
            // Duplicates would show as extra records (a re-send); the runs should have none.
            if let final = try? RuntimeBench.watermarks(admin, topic: output, partitions: partitions) {
                result.outputCount = final.reduce(0) { $0 + $1.high }
                if final.contains(where: { $0.low > 0 }), result.problem == nil {
                    result.problem = "the broker dropped output records to retention (low watermarks \(final.map(\.low)))"
                }
            }
            if result.problem != nil, let tail = Self.tail(of: logFile) {
                benchPrint("  [\(tag)] last lines of \(logFile.path):\n\(tail)")
            }
            return result
        }

        static func tail(of file: URL, lines: Int = 15) -> String? {
            guard let text = try? String(contentsOf: file, encoding: .utf8) else { return nil }
            return text.split(separator: "\n").suffix(lines).map { "    \($0)" }.joined(separator: "\n")
        }
    }

    struct RunResult: Codable, Sendable {
        var variant: Variant
        var batchSize: Int
        var target: Int64
        var outputTopic: String
        var logFile: String
        var outputCount: Int64 = 0
        /// From starting the child to the poll that saw the last output record.
        var wallSeconds: Double = 0
        /// From starting the child to the poll that first saw output (process start, group join, first batch).
        var firstOutputSeconds: Double?
        var steadySeconds: Double?
        var totalRate: Double?
        var steadyRate: Double?
        var peakRSSBytes: Int?
        /// The child's user + system CPU time until the last output (a CPU-bound run shows ≈ wall time).
        var cpuSeconds: Double?
        var exitStatus: Int32?
        var problem: String?

        var ok: Bool { problem == nil && outputCount >= target }

        var summary: String {
            guard ok else { return "FAILED: \(problem ?? "output short: \(outputCount)/\(target)")" }
            return "\(outputCount) records in \(Format.fixed(wallSeconds, 2)) s: \(Format.rate(totalRate)) msgs/s total, "
                + "\(Format.rate(steadyRate)) msgs/s steady (first output after \(Format.fixed(firstOutputSeconds, 2)) s), "
                + "peak RSS \(Format.mib(peakRSSBytes.map(Double.init))) MiB, CPU \(Format.fixed(cpuSeconds, 2)) s"
        }
    }

    /// User + system CPU time of a live process, from `/proc/<pid>/stat`.
    enum ProcessCPU {
        static func seconds(pid: Int32) -> Double? {
            guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = text.lastIndex(of: ")") else { return nil }
            // After "pid (comm)": state is field 3, utime and stime are fields 14 and 15.
            let fields = text[text.index(after: close)...].split(separator: " ")
            guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
            return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
        }
    }

    // MARK: - Report

    struct Report: Codable, Sendable {
        var messages: Int
        var messageBytes: Int
        var partitions: Int32
        var keys: Int
        var producedSeconds: Double
        var producedRate: Double
        var runs: [RunResult]
        var ratios: [Ratio] = []

        struct Ratio: Codable, Sendable {
            var batchSize: Int
            /// worker ÷ relay, messages/s over the whole run.
            var total: Double?
            /// worker ÷ relay, messages/s over the steady window.
            var steady: Double?
        }

        init(messages: Int, messageBytes: Int, partitions: Int32, keys: Int, producedSeconds: Double, producedRate: Double, runs: [RunResult]) {
            self.messages = messages
            self.messageBytes = messageBytes
            self.partitions = partitions
            self.keys = keys
            self.producedSeconds = producedSeconds
            self.producedRate = producedRate
            self.runs = runs
            var sizes: [Int] = []
            for run in runs where !sizes.contains(run.batchSize) { sizes.append(run.batchSize) }
            ratios = sizes.map { size in
                let relay = runs.first { $0.batchSize == size && $0.variant == .relay && $0.ok }
                let worker = runs.first { $0.batchSize == size && $0.variant == .worker && $0.ok }
                func ratio(_ a: Double?, _ b: Double?) -> Double? {
                    guard let a, let b, b > 0 else { return nil }
                    return a / b
                }
                return Ratio(batchSize: size, total: ratio(worker?.totalRate, relay?.totalRate),
                             steady: ratio(worker?.steadyRate, relay?.steadyRate))
            }
        }

        func table() -> String {
            let header = ["variant", "batch", "msgs/s (total)", "msgs/s (steady)", "first output s", "child CPU s", "peak RSS MiB", "status"]
            let rows = runs.map { run in
                [run.variant.rawValue, "\(run.batchSize)", Format.rate(run.ok ? run.totalRate : nil), Format.rate(run.ok ? run.steadyRate : nil),
                 Format.fixed(run.firstOutputSeconds, 2), Format.fixed(run.cpuSeconds, 2), Format.mib(run.peakRSSBytes.map(Double.init)),
                 run.ok ? "ok" : "FAILED (\(run.outputCount)/\(run.target))"]
            }
            var lines = ["runtime bench: \(messages) records × \(messageBytes) bytes, \(partitions) partitions, \(keys) keys; "
                         + "input produced at \(Format.rate(producedRate)) msgs/s (\(Format.fixed(producedSeconds, 2)) s)", ""]
            lines += TableFormat.render(header: header, rows: rows, rightAligned: [1, 2, 3, 4, 5, 6])
            lines.append("")
            lines += TableFormat.render(
                header: ["batch", "worker/relay (total)", "worker/relay (steady)"],
                rows: ratios.map { ["\($0.batchSize)", Format.fixed($0.total, 2), Format.fixed($0.steady, 2)] },
                rightAligned: [0, 1, 2])
            return lines.joined(separator: "\n")
        }
    }

    /// A plain-text table with `|` between columns (no table library on this machine).
    enum TableFormat {
        static func render(header: [String], rows: [[String]], rightAligned: Set<Int>) -> [String] {
            let widths = header.indices.map { column in
                ([header] + rows).map { $0[column].count }.max() ?? 0
            }
            func line(_ cells: [String]) -> String {
                cells.enumerated().map { column, cell in
                    let padding = String(repeating: " ", count: widths[column] - cell.count)
                    return rightAligned.contains(column) ? padding + cell : cell + padding
                }.joined(separator: " | ")
            }
            let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "-|-")
            return [line(header), rule] + rows.map(line)
        }
    }

    enum Format {
        static func rate(_ value: Double?) -> String {
            guard let value, value.isFinite else { return "-" }
            return grouped(Int(value.rounded()))
        }

        static func grouped(_ value: Int) -> String {
            let digits = String(value.magnitude)
            var out = ""
            for (i, c) in digits.enumerated() {
                if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
                out.append(c)
            }
            return (value < 0 ? "-" : "") + out
        }

        static func fixed(_ value: Double?, _ decimals: Int) -> String {
            guard let value, value.isFinite else { return "-" }
            return String(format: "%.\(decimals)f", value)
        }

        static func mib(_ bytes: Double?) -> String { fixed(bytes.map { $0 / 1_048_576 }, 1) }

        static func seconds(_ duration: Duration) -> String { fixed(duration.seconds, 2) }
    }

    // MARK: - Input

    /// Deterministic JSON-like submissions of an exact size, keyed by an ID-number-like key.
    struct InputGenerator {
        let keys: Int
        let valueBytes: Int

        private static let firstNames = ["Thandiwe", "Pieter", "Aisha", "Sipho", "Lerato", "Johan", "Naledi", "Ruan", "Zanele",
                                         "Mohammed", "Anele", "Charlize", "Kagiso", "Mpho", "Elize", "Tumelo", "Fatima", "Bongani"]
        private static let surnames = ["Mokoena", "van der Merwe", "Naidoo", "Dlamini", "Botha", "Khumalo", "Pillay", "Nkosi",
                                       "Pretorius", "Mahlangu", "Adams", "Zulu", "Coetzee", "Ndlovu", "Petersen", "Sithole"]
        private static let streets = ["Acacia Street", "Main Road", "Church Street", "Voortrekker Road", "Jan Smuts Avenue",
                                      "Long Street", "Oak Avenue", "Nelson Mandela Drive", "Beach Road", "Station Lane"]
        private static let cities = ["Cape Town", "Johannesburg", "Durban", "Pretoria", "Gqeberha", "Bloemfontein", "Polokwane",
                                     "Mbombela", "Kimberley", "East London"]
        private static let words = ["applicant", "guardian", "confirmed", "branch", "document", "certified", "copy", "received",
                                    "address", "proof", "residence", "birth", "certificate", "verified", "pending", "photo",
                                    "signature", "collected", "office", "hours", "appointment", "reference", "school", "letter",
                                    "the", "and", "of", "with", "for", "on", "by", "at", "was", "is", "a", "to", "in", "per"]
        private static let channels = ["web-portal", "branch-counter", "mobile-app", "school-drive"]
        private static let documents = ["birth_certificate", "guardian_id", "proof_of_address", "photo", "school_letter"]

        func records(topic: String, count: Int) -> [ProducerRecord] {
            var rng = SplitMix64(seed: 0x5EED_CA4D)
            return (0..<count).map { index in
                let key = Self.key(Int(rng.next() % UInt64(keys)))
                return ProducerRecord(topic: topic, key: Array(key.utf8), value: value(index: index, key: key, rng: &rng))
            }
        }

        /// A 13-digit ID-number-like key.
        static func key(_ n: Int) -> String { pad(900_101_000_000 + n * 7_919, 13) }

        private func value(index: Int, key: String, rng: inout SplitMix64) -> [UInt8] {
            func pick(_ list: [String]) -> String { list[Int(rng.next() % UInt64(list.count))] }
            func number(_ below: Int) -> Int { Int(rng.next() % UInt64(below)) }
            var text = "{\"application_id\":\"app-\(Self.pad(index, 8))\",\"id_number\":\"\(key)\""
            text += ",\"submitted_at\":\"2025-\(Self.pad(1 + number(12), 2))-\(Self.pad(1 + number(28), 2))T\(Self.pad(number(24), 2)):\(Self.pad(number(60), 2)):\(Self.pad(number(60), 2))Z\""
            text += ",\"channel\":\"\(pick(Self.channels))\""
            text += ",\"applicant\":{\"first_names\":\"\(pick(Self.firstNames)) \(pick(Self.firstNames))\",\"surname\":\"\(pick(Self.surnames))\""
            text += ",\"date_of_birth\":\"20\(Self.pad(10 + number(15), 2))-\(Self.pad(1 + number(12), 2))-\(Self.pad(1 + number(28), 2))\"}"
            text += ",\"guardian\":{\"id_number\":\"\(Self.key(number(1_000_000)))\",\"phone\":\"+27 8\(number(10)) \(Self.pad(number(1000), 3)) \(Self.pad(number(10000), 4))\"}"
            text += ",\"address\":{\"line1\":\"\(1 + number(300)) \(pick(Self.streets))\",\"city\":\"\(pick(Self.cities))\",\"postal_code\":\"\(Self.pad(number(10000), 4))\"}"
            text += ",\"branch\":\"bank-\(Self.pad(number(12), 2))/branch-\(Self.pad(number(400), 3))\""
            text += ",\"documents\":[\"\(pick(Self.documents))\",\"\(pick(Self.documents))\"],\"notes\":\""
            var bytes = Array(text.utf8)
            let closing = Array("\"}".utf8)
            while bytes.count + closing.count < valueBytes {
                let word = Array(pick(Self.words).utf8)
                if bytes.count + 1 + word.count + closing.count > valueBytes { break }
                if bytes.last != UInt8(ascii: "\"") { bytes.append(UInt8(ascii: " ")) }
                bytes += word
            }
            while bytes.count + closing.count < valueBytes { bytes.append(UInt8(ascii: ".")) }
            bytes += closing
            // Sizes too small for the skeleton are cut: the text is then only JSON-like.
            return Array(bytes.prefix(valueBytes))
        }

        static func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
        }
    }
}

// MARK: - Threads

/// Runs blocking work (librdkafka calls, waiting for a child) on a thread of its own, never the cooperative pool.
fileprivate func benchOnThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            continuation.resume(with: Result { try body() })
        }
        thread.name = name
        thread.start()
    }
}

/// Writes a line to stdout at once (unbuffered), so progress shows even when piped to a file or `tee`.
fileprivate func benchPrint(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
