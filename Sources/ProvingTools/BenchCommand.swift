import ArgumentParser
import CardDomain
import CardWorkers
import DemoWorld
import FleetSupport
import Foundation
import Kafka
import Logging
import Synchronization
import WorkerRuntime

/// `fleet bench`: the whole fleet against a raw librdkafka relay, in one run on one embedded broker.
package struct BenchCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Benchmark the fleet (four workers, all stages) against a raw 4-hop relay; latency, RSS, JSON and a PNG plot.",
        discussion: """
            Hosts an embedded broker with the topics of Topics/ and generates --applications valid submissions for scaled \
            demo families (see ScaledPopulation). (a) Four `fleet bench-relay` children relay the same submissions over five \
            topics of the same partition count, no processing; (c), run right after it, is the same relay in plain C \
            (`card-c-relay`, Sources/CRelayBaseline), the C-speed baseline. (b) The four worker executables run as children, the \
            registry and branches are seeded, and the submissions go to card.submission; the bank simulator is off, so an \
            application ends at its card order (in_production). Both phases keep at most --window records in flight (or \
            pace at --rate), so no partition's backlog nears the broker's ~5 MiB retention; outputs are read live. \
            Prints as its headline the CPU each process used per application (and per relayed record): user + system time from \
            /proc/<pid>/stat of every worker and relay hop, and of this process (embedded broker, feeder, reader), \
            from the phase's first record to its end, divided by the count. Then applications/s, the ratios fleet/relay, fleet/C relay and Swift relay/C relay, latency from submission to `routed` and to the card order \
            (Kafka timestamps of the outputs against the moment each submission was handed to the producer), each \
            worker's peak RSS; writes --json and a --plot PNG (Python matplotlib). Exits non-zero when any application \
            is lost, duplicated or ends wrongly, or a relay loses a record.
            """)

    @Option(help: "Applications to submit (and records to relay).") var applications = 20_000
    @Option(help: "Pace the fleet's submissions at this many per second (a latency run); default: as fast as the window allows.")
    var rate: Double?
    @Option(help: "Most records in flight (submitted, not yet at their end); default: from the broker's retention.") var window: Int?
    @Flag(help: "Skip both relay phases (a) and (c).") var skipRelay = false
    @Flag(help: "Skip the C relay phase (c) only.") var skipCRelay = false
    @Option(help: "Demo families per generation of the scaled population.") var families = 2000
    @Option(help: "Worker batch size (--batch-size of each worker; the relay's poll batch).") var batchSize = 500
    @Option(name: .customLong("worker-kafka-property"), parsing: .singleValue,
            help: "A librdkafka property key=value for every worker (repeatable), e.g. queued.max.messages.kbytes=1024.")
    var workerKafkaProperties: [String] = []
    @Option(help: "Folder of topic specs; default: ./Topics or the repository's.") var topicsDir: String?
    @Option(help: "Work folder (state, logs); default: a fresh temporary folder, removed on success.") var workDir: String?
    @Option(help: "Write the result as JSON here.") var json = "bench-result.json"
    @Option(help: "Write the plot of throughput and lag here (PNG, via python3 matplotlib; empty: none).") var plot = "bench-plot.png"
    @Option(help: "Give up a phase when its output has not grown for this many seconds.") var stallTimeout = 120.0
    @Option(help: "Seconds between progress lines.") var progressEvery = 2.0

    package init() {}

    package func validate() throws {
        guard applications > 0 else { throw ValidationError("--applications must be positive") }
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive") }
        if let window, window <= 0 { throw ValidationError("--window must be positive") }
        guard batchSize > 0, families > 0 else { throw ValidationError("--batch-size and --families must be positive") }
    }

    package func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .warning
            return handler
        }
        let command = self
        let outcome = try await OffPool.run("bench") { try command.runBlocking() }
        if !outcome { throw ExitCode.failure }
    }

    // MARK: - The run (blocking, on a thread of its own)

    private func runBlocking() throws -> Bool {
        let logger = Logger(label: "card.bench")
        let directory = workDir.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("fleet-bench-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let fleet = try FleetUnderTest(brokers: 1, topicsDirectory: try locateTopicsDirectory(topicsDir), directory: directory,
                                       workerArguments: ["*": ["--batch-size", "\(batchSize)"] + workerKafkaProperties.flatMap { ["--kafka-property", $0] }],
                                       logger: logger)
        Terminal.say("bench: embedded broker \(fleet.servers), work folder \(directory.path)")

        // MARK: Input
        let generationStart = ContinuousClock.now
        let population = ScaledPopulation(families: families, invalidShare: 0, lateShare: 0, seed: 20_261_125,
                                          runID: "b" + SubmitCommand.randomRunID())
        let input = population.applications(0..<applications, at: Timestamp.now())
        let averageBytes = input.reduce(0) { $0 + $1.value.count } / input.count
        let partitions = fleet.partitions(of: CardTopics.submission)
        // Keep the backlog of any partition under ~2 MiB of raw JSON, far from the ~5 MiB the broker keeps.
        let window = window ?? max(100, 2 * 1_048_576 * Int(partitions) / max(averageBytes, 1))
        Terminal.say("input: \(applications) valid applications, \(averageBytes) bytes on average, generated in \(RunFormat.seconds((ContinuousClock.now - generationStart).seconds)) s; "
                     + "\(population.generations(for: applications)) generation(s) of \(population.perGeneration) children; window \(window)"
                     + (rate.map { "; paced at \(Int($0))/s" } ?? ""))

        var result = BenchResult(applications: applications, averageBytes: averageBytes, partitions: Int(partitions),
                                 batchSize: batchSize, rate: rate, window: window)
        let probe = try LagProbe(bootstrapServers: fleet.servers, logger: logger)

        // MARK: (a) Swift relay, (c) C relay
        if !skipRelay {
            result.relay = try measureRelay(.swift, fleet: fleet, input: input, partitions: partitions, window: window, probe: probe,
                                            directory: directory, logger: logger)
            if !skipCRelay {
                result.cRelay = try measureRelay(.c, fleet: fleet, input: input, partitions: partitions, window: window, probe: probe,
                                                 directory: directory, logger: logger)
            }
        }

        // MARK: (b) Fleet
        let fleetPhase = try measureFleet(fleet: fleet, population: population, input: input, window: window, probe: probe, logger: logger)
        result.fleet = fleetPhase.figures
        if let relay = result.relay?.rate, let fleetRate = result.fleet?.rate, relay > 0 { result.ratio = fleetRate / relay }
        if let cRelay = result.cRelay?.rate, cRelay > 0 {
            result.ratioToC = result.fleet?.rate.map { $0 / cRelay }
            result.swiftRelayToC = result.relay?.rate.map { $0 / cRelay }
        }

        // MARK: Report
        result.loadAverage = BenchResult.currentLoadAverage()
        result.workerKafkaProperties = workerKafkaProperties
        Terminal.say("")
        for line in result.report() { Terminal.say(line) }
        for line in fleetPhase.verification.lines { Terminal.say(line) }
        var ok = true
        for (label, relay) in [("relay", result.relay), ("C relay", result.cRelay)] {
            guard let problem = relay?.problem else { continue }
            Terminal.say("FAILED: \(label): \(problem)")
            ok = false
        }
        for violation in fleetPhase.verification.violations {
            Terminal.say("VIOLATION: \(violation)")
            ok = false
        }
        if let problem = fleetPhase.problem {
            Terminal.say("FAILED: fleet: \(problem)")
            ok = false
        }
        result.ok = ok
        result.violations = fleetPhase.verification.violations + [result.relay?.problem, result.cRelay?.problem, fleetPhase.problem].compactMap { $0 }

        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let jsonURL = URL(fileURLWithPath: json)
        try encoder.encode(result).write(to: jsonURL)
        Terminal.say("result written to \(jsonURL.path)")
        if !plot.isEmpty {
            switch BenchPlot.render(json: jsonURL, png: URL(fileURLWithPath: plot), directory: directory) {
            case .success: Terminal.say("plot written to \(plot)")
            case .failure(let error): Terminal.say("warning: no plot: \(error)")
            }
        }
        Terminal.say(ok ? "bench: PASS (nothing lost, nothing duplicated)" : "bench: FAIL; logs kept in \(directory.path)")
        if ok && workDir == nil { try? FileManager.default.removeItem(at: directory) }
        withExtendedLifetime(fleet) {}
        return ok
    }

    // MARK: - (a) and (c): the raw relays

    /// Which relay a phase runs: the same protocol (poll a batch, send it, wait for every delivery
    /// report, commit asynchronously) and the same client settings in both.
    enum RelayKind {
        /// `fleet bench-relay`: Swift over this package's Kafka wrapper, the cost every worker pays too.
        case swift
        /// `card-c-relay` (Sources/CRelayBaseline): plain C over librdkafka, the C-speed baseline.
        case c

        var label: String { self == .swift ? "relay" : "c-relay" }
        var phase: String { self == .swift ? "[relay]" : "[c-relay]" }

        func command(servers: String, from: String, to: String, group: String, batchSize: Int) -> (URL, [String]) {
            let flags = ["--brokers", servers, "--from", from, "--to", to, "--group", group, "--batch-size", "\(batchSize)"]
            switch self {
            case .swift: return (BuildProducts.executable("fleet"), ["bench-relay"] + flags)
            case .c:
                // The Swift relay's very settings, so the two differ only in the language around librdkafka.
                let client = KafkaClientConfiguration(bootstrapServers: servers, clientID: "card-c-relay")
                // Except where the Swift relay starts: its rebalance listener assigns offset 0 (the wrapper
                // says `auto.offset.reset=error` so nothing is skipped silently); the C relay says `earliest`.
                var consumer = BenchRelayLoop.consumerConfiguration(client: client, group: group).librdkafkaProperties
                consumer["auto.offset.reset"] = nil
                let producer = BenchRelayLoop.producerConfiguration(client: client).librdkafkaProperties
                let pairs = consumer.sorted { $0.key < $1.key }.flatMap { ["--consumer-property", "\($0.key)=\($0.value)"] }
                    + producer.sorted { $0.key < $1.key }.flatMap { ["--producer-property", "\($0.key)=\($0.value)"] }
                return (BuildProducts.executable("card-c-relay"), flags + pairs)
            }
        }
    }

    private func measureRelay(_ kind: RelayKind, fleet: FleetUnderTest, input: [ScaledPopulation.Application], partitions: Int32, window: Int,
                              probe: LagProbe, directory: URL, logger: Logger) throws -> BenchResult.Relay {
        let topics = (0...4).map { "bench.\(kind.label).\($0)" }
        for topic in topics { try fleet.cluster.createTopic(TopicSpec(name: topic, partitions: partitions)) }
        let admin = probe.kafkaAdmin
        func count(_ topic: String) throws -> (total: Int64, lowMax: Int64) {
            let marks = try RuntimeBench.watermarks(admin, topic: topic, partitions: partitions)
            return (marks.reduce(0) { $0 + $1.high }, marks.map(\.low).max() ?? 0)
        }
        var relays: [ChildProcess] = []
        defer {
            relays.forEach { $0.signal(SIGTERM) }
            // Never left behind: a relay that has not stopped 15 s after SIGTERM is killed.
            for relay in relays where relay.wait(timeout: .seconds(15)) == nil {
                relay.signal(SIGKILL)
                relay.wait(timeout: .seconds(5))
            }
        }
        for hop in 0..<4 {
            let (executable, arguments) = kind.command(servers: fleet.servers, from: topics[hop], to: topics[hop + 1],
                                                       group: "bench-\(kind.label)-\(hop)", batchSize: batchSize)
            relays.append(try ChildProcess(
                name: "\(kind.label)-\(hop)", executable: executable, arguments: arguments,
                logFile: fleet.logDirectory.appendingPathComponent("\(kind.label)-\(hop).log")))
        }
        let feeder = try Feeder(servers: fleet.servers, clientID: "bench-\(kind.label)-feeder", logger: logger)
        // Warm-up: a few records through all four hops, so every relay has joined its group.
        let warmUp = 48
        for i in 0..<warmUp { feeder.enqueue(ProducerRecord(topic: topics[0], key: input[i % input.count].key, value: input[i % input.count].value), label: "warm-up") }
        let warmDeadline = ContinuousClock.now + .seconds(60)
        while try count(topics[4]).total < Int64(warmUp) {
            if ContinuousClock.now > warmDeadline { throw FleetRunError("relay warm-up did not reach the last topic in 60 s; logs in \(fleet.logDirectory.path)") }
            if let dead = relays.first(where: { !$0.isRunning }) { throw FleetRunError("\(dead.name) exited during warm-up") }
            usleep(50_000)
        }
        Terminal.say("\(kind.phase) 4 hops ready; relaying \(input.count) records")

        let target = Int64(warmUp + input.count)
        var figures = BenchResult.Relay(records: input.count)
        let cpu = CPUReadings(processes: Dictionary(uniqueKeysWithValues: relays.map { ($0.name, $0.pid) }))
        let start = ContinuousClock.now
        var next = 0
        var output: Int64 = Int64(warmUp)
        var lastGrowth = start, lastProgress = start, lastSample = start
        var lastSampleCount: Int64 = Int64(warmUp)
        figures.timeline.append(.init(t: 0, output: 0, rate: 0))
        while output < target {
            let now = ContinuousClock.now
            // Feed up to the window ahead of the last hop.
            let allowed = min(input.count, Int(output) - warmUp + window)
            while next < allowed {
                feeder.enqueue(ProducerRecord(topic: topics[0], key: input[next].key, value: input[next].value), label: "relay input")
                next += 1
            }
            usleep(20_000)
            let current = try count(topics[4]).total
            if current > output { lastGrowth = now; output = current }
            if now - lastSample >= .seconds(1) {
                let t = (now - start).seconds
                figures.timeline.append(.init(t: t, output: Int(output) - warmUp, rate: Double(output - lastSampleCount) / (now - lastSample).seconds))
                lastSample = now
                lastSampleCount = output
            }
            if now - lastProgress >= .milliseconds(Int64(progressEvery * 1000)) {
                lastProgress = now
                Terminal.say("\(kind.phase) \(RunFormat.seconds((now - start).seconds)) s: fed \(next)/\(input.count), through 4 hops \(Int(output) - warmUp)")
            }
            if let dead = relays.first(where: { !$0.isRunning }) {
                figures.problem = "\(dead.name) exited (status \(dead.exitStatus ?? -1)); see \(dead.logFile?.path ?? "-")"
                return figures
            }
            if (now - lastGrowth).seconds > stallTimeout {
                figures.problem = "no progress for \(stallTimeout) s at \(output - Int64(warmUp))/\(input.count)"
                return figures
            }
        }
        let elapsed = (ContinuousClock.now - start).seconds
        (figures.cpuMsPerRecord, figures.benchCPUMsPerRecord) = cpu.msPer(input.count)
        figures.seconds = elapsed
        figures.rate = Double(input.count) / elapsed
        figures.peakRSS = relays.compactMap(\.peakRSS).max()
        try? feeder.flush(timeout: .seconds(10))
        // Exact counts: a relay that lost or doubled a record shows here.
        usleep(300_000)
        for (i, topic) in topics.enumerated() {
            let c = try count(topic).total
            if c != target { figures.problem = (figures.problem.map { $0 + "; " } ?? "") + "\(topic) holds \(c) records, expected \(target)" }
            if i == 0, !feeder.failed.isEmpty { figures.problem = "\(feeder.failed.count) input record(s) not delivered" }
        }
        Terminal.say("\(kind.phase) \(input.count) records through 4 hops in \(RunFormat.seconds(elapsed)) s: \(RunFormat.rate(figures.rate)) msgs/s end to end")
        return figures
    }

    // MARK: - (b) The fleet

    private struct FleetPhase {
        var figures: BenchResult.Fleet
        var verification: RunVerification
        var problem: String?
    }

    private func measureFleet(fleet: FleetUnderTest, population: ScaledPopulation, input: [ScaledPopulation.Application], window: Int,
                              probe: LagProbe, logger: Logger) throws -> FleetPhase {
        let seedStart = ContinuousClock.now
        let feeder = try Feeder(servers: fleet.servers, clientID: "bench-feeder", logger: logger)
        let registry = try population.registryRecords(for: input.count)
        try feeder.sendAll(registry, label: "registry.persons")
        try feeder.sendAll(try ScaledPopulation.branchRecords(), label: "bank.branches")
        Terminal.say("[fleet] seeded \(registry.count) persons and \(DemoBranches.all.count) branches in \(RunFormat.seconds((ContinuousClock.now - seedStart).seconds)) s; starting the four workers")
        try fleet.startAll()
        defer { fleet.stopAll() }
        let readyStart = ContinuousClock.now
        try fleet.waitReady(timeout: .seconds(180))
        Terminal.say("[fleet] workers ready in \(RunFormat.seconds((ContinuousClock.now - readyStart).seconds)) s (registry loaded by identity)")

        let finals: Set<String> = ["in_production", "rejected"]
        let collector = try OutputCollector(servers: fleet.servers, finals: finals, logger: logger)
        collector.start()
        var figures = BenchResult.Fleet(applications: input.count)
        var problem: String?
        var sentAt = [String: Int64](minimumCapacity: input.count)
        let cpu = CPUReadings(processes: fleet.pids)
        let start = ContinuousClock.now
        let startWall = Date()
        var next = 0
        var lastGrowth = start, lastProgress = start, lastSample = start
        var last = (submitted: 0, routed: 0, orders: 0)
        figures.timeline.append(.init(t: 0, submitted: 0, routed: 0, orders: 0, submittedRate: 0, routedRate: 0, ordersRate: 0,
                                      lag: Dictionary(uniqueKeysWithValues: FleetUnderTest.workerNames.map { ($0, Int64(0)) })))
        var done = 0
        var seenStatuses = 0
        while done < input.count {
            let now = ContinuousClock.now
            let counts = collector.counts()
            done = counts.finalized
            var allowed = min(input.count, done + window)
            if let rate { allowed = min(allowed, Int((now - start).seconds * rate) + 1) }
            while next < allowed {
                let application = input[next]
                sentAt[application.submissionID] = Int64(Date().timeIntervalSince1970 * 1000)
                feeder.enqueue(ProducerRecord(topic: CardTopics.submission, key: application.key, value: application.value), label: application.submissionID)
                next += 1
            }
            if counts.statuses > seenStatuses { lastGrowth = now; seenStatuses = counts.statuses }
            if now - lastSample >= .seconds(1) {
                fleet.samplePeakRSS()
                let elapsed = (now - lastSample).seconds
                let lag = fleet.lag(probe: probe)
                figures.timeline.append(.init(
                    t: (now - start).seconds, submitted: next, routed: counts.routed, orders: counts.orders,
                    submittedRate: Double(next - last.submitted) / elapsed, routedRate: Double(counts.routed - last.routed) / elapsed,
                    ordersRate: Double(counts.orders - last.orders) / elapsed, lag: lag))
                last = (next, counts.routed, counts.orders)
                lastSample = now
                if now - lastProgress >= .milliseconds(Int64(progressEvery * 1000)) {
                    lastProgress = now
                    let lagText = FleetUnderTest.workerNames.map { "\($0) \(lag[$0].map(String.init) ?? "-")" }.joined(separator: ", ")
                    Terminal.say("[fleet] \(RunFormat.seconds((now - start).seconds)) s: submitted \(next)/\(input.count), routed \(counts.routed), card orders \(counts.orders), ended \(counts.finalized); lag \(lagText)")
                }
            }
            if let dead = fleet.running.first(where: { !$0.value })?.key {
                problem = "worker \(dead) exited; see \(fleet.logFile(dead).path)"
                break
            }
            if (now - lastGrowth).seconds > stallTimeout {
                problem = "no progress for \(stallTimeout) s: \(done)/\(input.count) applications ended"
                break
            }
            usleep(rate == nil ? 20_000 : 2_000)
        }
        let elapsedToEnd = (ContinuousClock.now - start).seconds
        (figures.cpuMsPerApplication, figures.benchCPUMsPerApplication) = cpu.msPer(input.count)
        fleet.samplePeakRSS()
        figures.peakRSS = fleet.peakRSS
        try? feeder.flush(timeout: .seconds(10))
        if !feeder.failed.isEmpty { problem = "\(feeder.failed.count) submission(s) not delivered, first: \(feeder.failed[0])" }
        let stopStatuses = fleet.stopAll()
        usleep(1_000_000)
        collector.stopReading()
        let state = collector.snapshot
        for (name, status) in stopStatuses where status != 0 {
            problem = (problem.map { $0 + "; " } ?? "") + "worker \(name) stopped with status \(status.map(String.init) ?? "none (killed)")"
        }

        // Latency: Kafka timestamps of the routed status and the card order against the moment of submission.
        var routed: [Double] = [], ordered: [Double] = [], routedAfterWarmUp: [Double] = []
        var lastOrder: Int64 = 0
        let warmUpEndMs = Int64(startWall.timeIntervalSince1970 * 1000) + 10_000
        for copy in state.statuses.values where copy.status == "routed" {
            guard let sent = sentAt[copy.application] else { continue }
            routed.append(Double(copy.timestamp - sent))
            if sent >= warmUpEndMs { routedAfterWarmUp.append(Double(copy.timestamp - sent)) }
        }
        for copy in state.orders.values {
            if let sent = sentAt[copy.application] { ordered.append(Double(copy.timestamp - sent)) }
            lastOrder = max(lastOrder, copy.timestamp)
        }
        routed.sort()
        ordered.sort()
        figures.latencyRouted = .init(routed)
        routedAfterWarmUp.sort()
        figures.latencyRoutedAfterWarmUp = .init(routedAfterWarmUp)
        figures.latencyOrder = .init(ordered)
        let startMs = Int64(startWall.timeIntervalSince1970 * 1000)
        figures.seconds = lastOrder > startMs ? Double(lastOrder - startMs) / 1000 : elapsedToEnd
        figures.rate = Double(state.orders.count) / figures.seconds
        let expected = Dictionary(uniqueKeysWithValues: input.map { ($0.submissionID, $0.expected == .accepted) })
        let verification = RunVerification.verify(state, expected: expected, finals: finals)
        var allViolations = verification
        let gaps = fleet.gapLines()
        if !gaps.isEmpty { allViolations.violations.append("\(gaps.count) OFFSET GAP line(s) in the worker logs: \(gaps[0])") }
        if !fleet.unexpectedExits.isEmpty { allViolations.violations.append("worker crashes: \(fleet.unexpectedExits)") }
        figures.statusResends = verification.statusResends
        figures.orderResends = verification.orderResends
        return FleetPhase(figures: figures, verification: allViolations, problem: problem)
    }
}

// MARK: - Result

struct BenchResult: Codable {
    struct Latency: Codable {
        var count: Int
        var p50: Double?
        var p99: Double?
        var max: Double?
        init(_ sorted: [Double]) {
            count = sorted.count
            p50 = RunFormat.percentile(sorted, 50)
            p99 = RunFormat.percentile(sorted, 99)
            max = sorted.last
        }
    }

    struct Relay: Codable {
        struct Sample: Codable { var t: Double; var output: Int; var rate: Double }
        var records: Int
        var seconds: Double = 0
        var rate: Double?
        var peakRSS: Int?
        /// CPU ms (user + system from /proc) each hop's process used per record relayed.
        var cpuMsPerRecord: [String: Double] = [:]
        /// CPU ms the bench process (embedded broker, feeder, counting) used per record relayed.
        var benchCPUMsPerRecord: Double?
        var timeline: [Sample] = []
        var problem: String?
    }

    struct Fleet: Codable {
        struct Sample: Codable {
            var t: Double
            var submitted: Int
            var routed: Int
            var orders: Int
            var submittedRate: Double
            var routedRate: Double
            var ordersRate: Double
            var lag: [String: Int64]
        }
        var applications: Int
        var seconds: Double = 0
        var rate: Double?
        var latencyRouted: Latency?
        var latencyOrder: Latency?
        /// Submission → routed for applications submitted after the first 10 s (connections,
        /// caches and fetch sessions warm), to tell a start-up tail from a steady one.
        var latencyRoutedAfterWarmUp: Latency?
        var peakRSS: [String: Int] = [:]
        /// CPU ms (user + system from /proc) each worker process used per application, from the
        /// first submission to the last application's end; a worker that restarted meanwhile is left out.
        var cpuMsPerApplication: [String: Double] = [:]
        /// CPU ms the bench process (embedded broker, feeder, output reader) used per application.
        var benchCPUMsPerApplication: Double?
        var statusResends = 0
        var orderResends = 0
        var timeline: [Sample] = []
    }

    var applications: Int
    var averageBytes: Int
    var partitions: Int
    var batchSize: Int
    var rate: Double?
    var window: Int
    var relay: Relay?
    /// The same relay in plain C (`card-c-relay`), phase (c).
    var cRelay: Relay?
    var fleet: Fleet?
    var ratio: Double?
    /// Fleet applications/s ÷ C relay msgs/s (issue 14's target: ≥ 0.4).
    var ratioToC: Double?
    /// Swift relay msgs/s ÷ C relay msgs/s: the wrapper's own per-message cost.
    var swiftRelayToC: Double?
    var ok = false
    var violations: [String] = []
    var host = ProcessInfo.processInfo.hostName
    var cores = ProcessInfo.processInfo.activeProcessorCount
    var loadAverage: String = BenchResult.currentLoadAverage()
    var workerKafkaProperties: [String] = []

    static func cpu(_ ms: Double) -> String { String(format: "%.3f", ms) }

    static func currentLoadAverage() -> String {
        (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "-"
    }

    func report() -> [String] {
        var lines = ["bench result: \(applications) applications × \(averageBytes) bytes, \(partitions) partitions, batch \(batchSize)"
                     + (workerKafkaProperties.isEmpty ? "" : ", workers with \(workerKafkaProperties.joined(separator: " "))")
                     + (rate.map { ", paced at \(Int($0))/s" } ?? ", window \(window)")]
        for (phase, name, relay) in [("(a)", "raw Swift relay", relay), ("(c)", "raw C relay", cRelay)] {
            guard let relay else { continue }
            lines.append("\(phase) \(name), 4 hops: \(RunFormat.rate(relay.rate)) msgs/s end to end (\(RunFormat.seconds(relay.seconds)) s), relay peak RSS \(RunFormat.mib(relay.peakRSS)) MiB")
            if !relay.cpuMsPerRecord.isEmpty {
                lines.append("\(phase) CPU per record, ms (user+system from /proc): "
                             + relay.cpuMsPerRecord.sorted { $0.key < $1.key }.map { "\($0.key) \(Self.cpu($0.value))" }.joined(separator: ", ")
                             + "; 4 hops \(Self.cpu(relay.cpuMsPerRecord.values.reduce(0, +)))"
                             + "; bench process (broker, feeder) \(relay.benchCPUMsPerRecord.map(Self.cpu) ?? "-")")
            }
        }
        if let fleet {
            if !fleet.cpuMsPerApplication.isEmpty {
                let workers = fleet.cpuMsPerApplication.values.reduce(0, +)
                lines.append("(b) CPU per application, ms (user+system from /proc): "
                             + FleetUnderTest.workerNames.map { "\($0) \(fleet.cpuMsPerApplication[$0].map(Self.cpu) ?? "-")" }.joined(separator: ", ")
                             + "; 4 workers \(Self.cpu(workers))"
                             + "; bench process (broker, feeder, output reader) \(fleet.benchCPUMsPerApplication.map(Self.cpu) ?? "-")")
                if let relayCPU = relay.map({ $0.cpuMsPerRecord.values.reduce(0, +) }), relayCPU > 0 {
                    lines.append("CPU b/a: the 4 workers use \(String(format: "%.1f", workers / relayCPU))× the 4 relay hops' CPU per application")
                }
            }
            lines.append("(b) fleet, 4 stages: \(RunFormat.rate(fleet.rate)) applications/s to the card order (\(RunFormat.seconds(fleet.seconds)) s)")
            lines.append("ratio b/a: \(ratio.map { String(format: "%.2f", $0) } ?? "-") (target ≥ 0.70)" + (rate != nil ? " — a paced run: b is the pace, not the capacity" : ""))
            if cRelay != nil {
                lines.append("ratio b/c (fleet to C relay): \(ratioToC.map { String(format: "%.2f", $0) } ?? "-") (target ≥ 0.40); "
                             + "a/c (Swift relay to C relay): \(swiftRelayToC.map { String(format: "%.2f", $0) } ?? "-")")
            }
            for (label, latency) in [("submission → routed", fleet.latencyRouted), ("submission → card order", fleet.latencyOrder),
                                     ("submission → routed, submitted after the first 10 s", fleet.latencyRoutedAfterWarmUp)] {
                guard let latency else { continue }
                lines.append("latency \(label): p50 \(RunFormat.ms(latency.p50)) ms, p99 \(RunFormat.ms(latency.p99)) ms, max \(RunFormat.ms(latency.max)) ms (\(latency.count) applications)")
            }
            lines.append("peak RSS: " + FleetUnderTest.workerNames.map { "\($0) \(RunFormat.mib(fleet.peakRSS[$0])) MiB" }.joined(separator: ", ") + " (target ≤ 64 MiB each)")
        }
        lines.append("machine: \(cores) cores, load average at the end \(loadAverage)")
        return lines
    }
}

/// CPU readings of a set of processes and of the bench process itself, taken at a phase's start,
/// for CPU per record at its end (`/proc/<pid>/stat` utime + stime).
struct CPUReadings {
    private let processes: [String: Int32]
    private let start: [String: Double]
    private let ownStart: Double?

    init(processes: [String: Int32]) {
        self.processes = processes
        start = processes.compactMapValues { ProcStatus.cpuSeconds(pid: $0) }
        ownStart = ProcStatus.ownCPUSeconds
    }

    /// CPU ms per item since `init`, per process still running under the same pid, and of this process.
    func msPer(_ items: Int) -> (processes: [String: Double], own: Double?) {
        guard items > 0 else { return ([:], nil) }
        var result: [String: Double] = [:]
        for (name, pid) in processes {
            guard let before = start[name], let now = ProcStatus.cpuSeconds(pid: pid) else { continue }
            result[name] = (now - before) * 1000 / Double(items)
        }
        let own = ProcStatus.ownCPUSeconds.flatMap { now in ownStart.map { (now - $0) * 1000 / Double(items) } }
        return (result, own)
    }
}
