import ArgumentParser
import CardDomain
import CardWorkers
import DemoWorld
import FleetSupport
import Foundation
import Kafka
import Logging
import WorkerRuntime

/// `fleet chaos`: applications through the fleet while workers are SIGKILLed and the broker misbehaves;
/// then proof from card.status and card.orders that nothing was lost or duplicated.
package struct ChaosCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "chaos",
        abstract: "Kill workers and inject broker faults while applications flow; verify every application ends exactly once.",
        discussion: """
            Hosts a 3-broker embedded cluster with the topics of Topics/, seeds scaled demo families and branches, starts \
            the four workers as children and submits --applications generated submissions (a share broken for intake, a \
            share rejected later). Meanwhile, every --kill-every seconds (±50%) a random worker gets SIGKILL and is \
            restarted --restart-delay seconds later; every --fault-every seconds the next fault of the cycle is injected \
            through the mock cluster: 20 failed Produce requests, 20 failed Fetch requests, 10 failed OffsetCommit \
            requests, a broker down for --broker-down-seconds, a group coordinator moved to another broker. \
            The bank simulator is off, so "final" is in_production for accepted applications and rejected for the rest. \
            Outputs are read live from offset 0. At the end every application must have exactly one final status, and \
            the outcome the generator intended; statuses with seq contiguous from 1, no status twice; exactly one card \
            order per in_production application; re-sends (the same card-message-id again) are counted apart and must \
            carry identical bytes. Exit status 1 on any violation.
            """)

    @Option(help: "Applications to submit.") var applications = 100_000
    @Option(help: "Mean seconds between worker kills (0: no kills).") var killEvery = 5.0
    @Option(help: "Stop killing after this many kills (default: no limit).") var maxKills: Int?
    @Option(help: "Stop injecting broker faults after this many (default: no limit).") var maxFaults: Int?
    @Option(help: "Seconds a killed worker stays down before its restart.") var restartDelay = 0.5
    @Option(help: "Seconds between broker faults (0: none).") var faultEvery = 6.0
    @Option(help: "Seconds a broker stays down.") var brokerDownSeconds = 3.0
    @Option(help: "Submissions per second (default: as fast as the window allows).") var rate: Double?
    @Option(help: "Most applications in flight (submitted, not yet ended).") var window = 5_000
    @Option(help: "Share of submissions intake rejects.") var invalidShare = 0.1
    @Option(help: "Share rejected at identity or routing.") var lateShare = 0.03
    @Option(help: "Random seed (kills, faults, generator); default random, printed.") var seed: UInt64?
    @Option(help: "Group session timeout of the workers in ms (a killed member's partitions move after it).") var sessionTimeoutMs = 6000
    @Option(help: "Folder of topic specs; default: ./Topics or the repository's.") var topicsDir: String?
    @Option(help: "Work folder (state, logs); default: a fresh temporary folder, removed on success.") var workDir: String?
    @Option(help: "Leave the chaos phase when no output arrived for this many seconds (kills can outpace recovery).") var stallTimeout = 180.0
    @Option(help: "After the chaos phase: seconds without new output, with no kills or faults, before the run is judged.") var calmTimeout = 90.0
    @Option(help: "Seconds between progress lines.") var progressEvery = 3.0

    package init() {}

    package func validate() throws {
        guard applications > 0, window > 0 else { throw ValidationError("--applications and --window must be positive") }
        guard killEvery >= 0, faultEvery >= 0, restartDelay >= 0, brokerDownSeconds > 0 else {
            throw ValidationError("--kill-every, --fault-every and --restart-delay must not be negative")
        }
        if let rate, rate <= 0 { throw ValidationError("--rate must be positive") }
    }

    package func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            // librdkafka's connection errors while a broker is down are the point of the run, not news.
            handler.logLevel = .critical
            return handler
        }
        let command = self
        let ok = try await OffPool.run("chaos") { try command.runBlocking() }
        if !ok { throw ExitCode.failure }
    }

    enum Fault: String, CaseIterable {
        case produceErrors = "20 Produce requests fail (NOT_LEADER_FOR_PARTITION)"
        case fetchErrors = "20 Fetch requests fail (NOT_LEADER_FOR_PARTITION)"
        case commitErrors = "10 OffsetCommit requests fail (NOT_LEADER_FOR_PARTITION)"
        case brokerDown = "a broker goes down"
        case coordinatorMove = "a group coordinator moves"
    }

    private func runBlocking() throws -> Bool {
        let logger = Logger(label: "card.chaos")
        let seed = seed ?? UInt64.random(in: 1...UInt64(Int32.max))
        var rng = RuntimeBench.SplitMix64(seed: seed)
        let directory = workDir.map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.temporaryDirectory.appendingPathComponent("fleet-chaos-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let brokers = 3
        let fleet = try FleetUnderTest(
            brokers: brokers, topicsDirectory: try locateTopicsDirectory(topicsDir), directory: directory,
            workerArguments: ["*": ["--kafka-property", "session.timeout.ms=\(sessionTimeoutMs)",
                                    "--kafka-property", "heartbeat.interval.ms=\(max(100, sessionTimeoutMs / 10))"]],
            logger: logger)
        Terminal.say("chaos: \(brokers)-broker embedded cluster \(fleet.servers), seed \(seed), work folder \(directory.path)")

        let population = ScaledPopulation(invalidShare: invalidShare, lateShare: lateShare, seed: seed, runID: "c" + SubmitCommand.randomRunID())
        let input = population.applications(0..<applications, at: Timestamp.now())
        let expected = Dictionary(uniqueKeysWithValues: input.map { ($0.submissionID, $0.expected == .accepted) })
        Terminal.say("input: \(applications) applications (\(expected.values.filter { $0 }.count) should reach the card order, \(expected.values.filter { !$0 }.count) be rejected)")

        let feeder = try Feeder(servers: fleet.servers, clientID: "chaos-feeder", logger: logger)
        let registry = try population.registryRecords(for: applications)
        try feeder.sendAll(registry, label: "registry.persons")
        try feeder.sendAll(try ScaledPopulation.branchRecords(), label: "bank.branches")
        try fleet.startAll()
        defer { fleet.stopAll(timeout: .seconds(10)) }
        try fleet.waitReady(timeout: .seconds(180))
        Terminal.say("seeded \(registry.count) persons; workers ready; chaos: a kill every ~\(killEvery) s, a broker fault every \(faultEvery) s")

        let finals: Set<String> = ["in_production", "rejected"]
        let collector = try OutputCollector(servers: fleet.servers, finals: finals, logger: logger)
        collector.start()
        let tracer = try HopTracer(servers: fleet.servers, logger: logger)
        tracer.start()

        func jitter(_ mean: Double) -> Duration { .milliseconds(Int64(mean * (0.5 + Double(rng.next() % 1000) / 1000) * 1000)) }
        let start = ContinuousClock.now
        var nextKill: ContinuousClock.Instant? = killEvery > 0 ? start + jitter(killEvery) : nil
        var nextFault: ContinuousClock.Instant? = faultEvery > 0 ? start + .milliseconds(Int64(faultEvery * 1000)) : nil
        var restartAt: ContinuousClock.Instant?
        var brokerUpAt: (ContinuousClock.Instant, Int32)?
        var faultIndex = 0
        var faultsInjected: [String: Int] = [:]
        var next = 0
        var seen = 0
        var lastGrowth = start, lastProgress = start
        var problem: String?
        while true {
            let now = ContinuousClock.now
            let counts = collector.counts()
            if counts.finalized >= applications { break }
            var allowed = min(applications, counts.finalized + window)
            if let rate { allowed = min(allowed, Int((now - start).seconds * rate) + 1) }
            while next < allowed {
                feeder.enqueue(ProducerRecord(topic: CardTopics.submission, key: input[next].key, value: input[next].value), label: input[next].submissionID)
                next += 1
            }
            if counts.statuses > seen { seen = counts.statuses; lastGrowth = now }

            // Kills and restarts.
            if let due = nextKill, now >= due, (maxKills.map { fleet.kills.values.reduce(0, +) < $0 } ?? true) {
                let name = FleetUnderTest.workerNames[Int(rng.next() % 4)]
                fleet.kill(name)
                Terminal.say("[chaos] \(RunFormat.seconds((now - start).seconds)) s: SIGKILL \(name)")
                restartAt = ContinuousClock.now + .milliseconds(Int64(restartDelay * 1000))
                nextKill = now + jitter(killEvery)
            }
            if restartAt.map({ ContinuousClock.now >= $0 }) ?? true {
                restartAt = nil
                let restarted = try fleet.restartDead()
                if !restarted.isEmpty { Terminal.say("[chaos] \(RunFormat.seconds((ContinuousClock.now - start).seconds)) s: restarted \(restarted.joined(separator: ", "))") }
            }

            // Broker faults.
            if let (upAt, broker) = brokerUpAt, now >= upAt {
                fleet.cluster.setBrokerUp(broker)
                Terminal.say("[chaos] \(RunFormat.seconds((now - start).seconds)) s: broker \(broker) up")
                brokerUpAt = nil
            }
            if let due = nextFault, now >= due, (maxFaults.map { faultsInjected.values.reduce(0, +) < $0 } ?? true) {
                let fault = Fault.allCases[faultIndex % Fault.allCases.count]
                faultIndex += 1
                var detail = ""
                switch fault {
                case .produceErrors: fleet.cluster.failNextRequests(apiKey: 0, count: 20)
                case .fetchErrors: fleet.cluster.failNextRequests(apiKey: 1, count: 20)
                case .commitErrors: fleet.cluster.failNextRequests(apiKey: 8, count: 10)
                case .brokerDown:
                    if brokerUpAt == nil {
                        let broker = Int32(1 + rng.next() % UInt64(brokers))
                        fleet.cluster.setBrokerDown(broker)
                        brokerUpAt = (now + .milliseconds(Int64(brokerDownSeconds * 1000)), broker)
                        detail = ": broker \(broker) for \(brokerDownSeconds) s"
                    }
                case .coordinatorMove:
                    let group = FleetUnderTest.groups[Int(rng.next() % 4)].group
                    let broker = Int32(1 + rng.next() % UInt64(brokers))
                    fleet.cluster.setCoordinator(group: group, brokerID: broker)
                    detail = ": \(group) to broker \(broker)"
                }
                faultsInjected[fault.rawValue, default: 0] += 1
                Terminal.say("[chaos] \(RunFormat.seconds((now - start).seconds)) s: fault: \(fault.rawValue)\(detail)")
                nextFault = now + .milliseconds(Int64(faultEvery * 1000))
            }

            if now - lastProgress >= .milliseconds(Int64(progressEvery * 1000)) {
                lastProgress = now
                fleet.samplePeakRSS()
                Terminal.say("[progress] \(RunFormat.seconds((now - start).seconds)) s: submitted \(next)/\(applications), ended \(counts.finalized), statuses \(counts.statuses), card orders \(counts.orders), dead letters \(counts.deadLetters)")
            }
            if (now - lastGrowth).seconds > stallTimeout {
                // Kills faster than a rebalance can starve a worker: stop the chaos, then see whether
                // the fleet finishes on its own. Only what it cannot finish in calm is a violation.
                Terminal.say("[chaos] no new status for \(Int(stallTimeout)) s under chaos: \(counts.finalized)/\(applications) ended; calming down")
                break
            }
            usleep(20_000)
        }
        let elapsed = (ContinuousClock.now - start).seconds
        // Calm: broker back, everyone up, outboxes drained by a graceful stop, late re-sends read.
        if let (_, broker) = brokerUpAt { fleet.cluster.setBrokerUp(broker) }
        try fleet.restartDead()
        Terminal.say("chaos stopped after \(RunFormat.seconds(elapsed)) s; no more kills or faults: waiting for every application to end")
        // Calm phase: restarted workers need a session timeout and a rebalance before they resume.
        var calmGrowth = ContinuousClock.now
        var calmSeen = collector.counts().statuses
        while true {
            let counts = collector.counts()
            if counts.finalized >= applications { break }
            // The rest of the input, still within the retention-safe window.
            while next < min(applications, counts.finalized + window) {
                feeder.enqueue(ProducerRecord(topic: CardTopics.submission, key: input[next].key, value: input[next].value), label: input[next].submissionID)
                next += 1
            }
            if counts.statuses > calmSeen { calmSeen = counts.statuses; calmGrowth = .now }
            if (ContinuousClock.now - calmGrowth).seconds > calmTimeout {
                problem = "no new status for \(Int(calmTimeout)) s after the chaos stopped: \(counts.finalized)/\(applications) ended"
                break
            }
            _ = try fleet.restartDead()
            usleep(100_000)
        }
        Terminal.say("calm phase: \(collector.counts().finalized)/\(applications) ended after \(RunFormat.seconds((ContinuousClock.now - start).seconds - elapsed)) s")
        usleep(3_000_000)
        try? feeder.flush(timeout: .seconds(30))
        let stopStatuses = fleet.stopAll()
        usleep(1_500_000)
        collector.stopReading()
        tracer.stopReading()

        let state = collector.snapshot
        var verification = RunVerification.verify(state, expected: expected, finals: finals)
        if !feeder.failed.isEmpty { verification.violations.append("\(feeder.failed.count) submission(s) not delivered: \(feeder.failed[0])") }
        let gaps = fleet.gapLines()
        if !gaps.isEmpty { verification.violations.append("\(gaps.count) OFFSET GAP line(s) in the worker logs, e.g. \(gaps[0])") }
        if !state.deadLetters.isEmpty {
            verification.violations.append("\(state.deadLetters.count) dead letter(s) from valid JSON submissions, e.g. \(state.deadLetters.values.first!.error)")
        }
        if let problem { verification.violations.append(problem) }

        Terminal.say("")
        Terminal.say("chaos figures: \(applications) applications in \(RunFormat.seconds(elapsed)) s (\(RunFormat.rate(Double(applications) / elapsed)) applications/s under chaos)")
        let kills = fleet.kills, restarts = fleet.restarts
        Terminal.say("kills: \(kills.values.reduce(0, +)) SIGKILL (" + FleetUnderTest.workerNames.map { "\($0) \(kills[$0, default: 0])" }.joined(separator: ", ")
                     + "); restarts: \(restarts.values.reduce(0, +)); unexpected exits: \(fleet.unexpectedExits.isEmpty ? "none" : "\(fleet.unexpectedExits)")")
        Terminal.say("broker faults: \(faultsInjected.values.reduce(0, +)) (" + Fault.allCases.map { "\(faultsInjected[$0.rawValue, default: 0])× \($0.rawValue)" }.joined(separator: "; ") + ")")
        Terminal.say("graceful stop exit statuses: " + FleetUnderTest.workerNames.map { "\($0) \(stopStatuses[$0].flatMap { $0 }.map(String.init) ?? "-")" }.joined(separator: ", "))
        Terminal.say("peak RSS: " + FleetUnderTest.workerNames.map { "\($0) \(RunFormat.mib(fleet.peakRSS[$0])) MiB" }.joined(separator: ", "))
        for line in verification.lines { Terminal.say(line) }
        for violation in verification.violations { Terminal.say("VIOLATION: \(violation)") }
        let unfinished = expected.keys.filter { !state.finalized.contains($0) }.sorted()
        if !unfinished.isEmpty {
            Terminal.say("where the \(unfinished.count) unfinished application(s) stopped (first 20):")
            for application in unfinished.prefix(20) {
                Terminal.say("  " + tracer.locate(application, stateDirectory: directory.appendingPathComponent("state")))
            }
        }
        for error in tracer.errors.prefix(5) { Terminal.say("hop tracer read error: \(error)") }
        let ok = verification.violations.isEmpty
        Terminal.say(ok ? "chaos: PASS (every application ended exactly once; nothing lost, nothing duplicated)" : "chaos: FAIL; logs kept in \(directory.path)")
        if ok && workDir == nil { try? FileManager.default.removeItem(at: directory) }
        return ok
    }
}
