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

            --instances N (N > 1; issue 13's proof) runs N instances of every worker type, each on its own state \
            directory (its own disk), and every worker event picks at random: SIGKILL and a restart on its disk; SIGKILL \
            with the disk lost and a replacement on a fresh disk; a new instance on a fresh disk; a graceful removal \
            (SIGTERM) — keeping 1 to N+1 live instances per type. Every --input-retention-ms the feed and the chaos pause \
            until the fleet has caught up, then every input partition's older records are pushed out of the embedded \
            broker (which ignores retention.ms: see ChaosRetention.swift), so a partition moved afterwards cannot be \
            rebuilt by replaying its inputs. After the chaos: one more retention pass, one instance of every type killed \
            with its disk lost, then probes: --probe-sample freed children apply again (must be received), as many \
            children in production apply again (must be refused DUPLICATE_ACTIVE_APPLICATION), as many orders get bank \
            events (must reach ready_for_pickup once).
            """)

    @Option(help: "Applications to submit.") var applications = 100_000
    @Option(help: "Mean seconds between worker kills (0: no kills).") var killEvery = 5.0
    @Option(help: "Stop the worker events (kills; with --instances > 1 also adds and removals) after this many (default: no limit).") var maxKills: Int?
    @Option(help: "Instances per worker type, each with its own state directory; > 1 adds instance events (see above).") var instances = 1
    @Option(help: "Emulated input retention: a retention pass every this many ms (0: none; default 30000 with --instances > 1, else 0).") var inputRetentionMs: Int?
    @Option(help: "Children and orders per probe after the chaos (default 20 with --instances > 1, else 0).") var probeSample: Int?
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
        guard instances >= 1 else { throw ValidationError("--instances must be at least 1") }
        if let inputRetentionMs, inputRetentionMs < 0 { throw ValidationError("--input-retention-ms must not be negative") }
        if let probeSample, probeSample < 0 { throw ValidationError("--probe-sample must not be negative") }
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
        var rng = SplitMix64(seed: seed)
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
        let retentionPeriod = inputRetentionMs ?? (instances > 1 ? 30_000 : 0)
        let sample = probeSample ?? (instances > 1 ? 20 : 0)
        if instances == 1 {
            try fleet.startAll()
        } else {
            try FleetUnderTest.checkExecutables()
            for worker in FleetUnderTest.workerNames {
                for _ in 0..<instances { try fleet.addInstance(of: worker) }
            }
        }
        defer { fleet.stopAll(timeout: .seconds(10)) }
        try fleet.waitReady(timeout: .seconds(180))
        Terminal.say("seeded \(registry.count) persons; workers ready (\(instances) instance(s) per type); chaos: a worker event every ~\(killEvery) s, a broker fault every \(faultEvery) s"
                     + (retentionPeriod > 0 ? ", a retention pass every \(retentionPeriod) ms" : ""))

        let finals: Set<String> = ["in_production", "rejected"]
        let collector = try OutputCollector(servers: fleet.servers, finals: finals, logger: logger)
        collector.start()
        let tracer = try HopTracer(servers: fleet.servers, logger: logger)
        tracer.start()
        let retention = try RetentionPasses(fleet: fleet, logger: logger)

        let start = ContinuousClock.now
        func jitter(_ mean: Double) -> Duration { .milliseconds(Int64(mean * (0.5 + Double(rng.next() % 1000) / 1000) * 1000)) }
        func at(_ instant: ContinuousClock.Instant) -> String { RunFormat.seconds((instant - start).seconds) }
        var nextKill: ContinuousClock.Instant? = killEvery > 0 ? start + jitter(killEvery) : nil
        var nextFault: ContinuousClock.Instant? = faultEvery > 0 ? start + .milliseconds(Int64(faultEvery * 1000)) : nil
        var nextRetention: ContinuousClock.Instant? = retentionPeriod > 0 ? start + .milliseconds(Int64(retentionPeriod)) : nil
        /// A retention pass waiting for the fleet to catch up: since when, and whether its first wave is out.
        var draining: (since: ContinuousClock.Instant, firstWaveSent: Bool)?
        var lastQuietCheck = start
        var restartAt: ContinuousClock.Instant?
        var replacements: [(due: ContinuousClock.Instant, worker: String)] = []
        var brokerUpAt: (ContinuousClock.Instant, Int32)?
        var faultIndex = 0
        var faultsInjected: [String: Int] = [:]
        var events: [String: Int] = [:]
        var next = 0
        var seen = 0
        var lastGrowth = start, lastProgress = start
        var problem: String?

        /// Submissions and applied hop records the retention fillers can copy (applications that ended).
        func beginRetention() {
            let state = collector.snapshot
            let submissions = input[0..<next].filter { $0.expected == .accepted && state.finalized.contains($0.submissionID) }.map { (key: $0.key, value: $0.value) }
            var applied: [String: [InputRetention.Applied]] = [:]
            for topic in InputRetention.hopTopics {
                applied[topic] = tracer.sightings(on: topic).compactMap { application, sighting in
                    guard state.finalized.contains(application), let id = sighting.messageID else { return nil }
                    return InputRetention.Applied(partition: sighting.partition, application: application, messageID: id)
                }.sorted { $0.application < $1.application }
            }
            retention.begin(submissions: submissions, applied: applied)
        }
        func fire(_ event: WorkerEvent) throws -> String {
            events[event.kind, default: 0] += 1
            switch event {
            case .killRestart(let name):
                fleet.kill(name)
                restartAt = ContinuousClock.now + .milliseconds(Int64(restartDelay * 1000))
                return instances == 1 ? "SIGKILL \(name)" : event.description
            case .killReplace(let name, let worker):
                fleet.killAndLoseDisk(name)
                replacements.append((ContinuousClock.now + .milliseconds(Int64(restartDelay * 1000)), worker))
                return event.description
            case .add(let worker):
                return "\(event.description): \(try fleet.addInstance(of: worker))"
            case .remove(let name):
                fleet.remove(name)
                return event.description
            }
        }
        func startDue(now: ContinuousClock.Instant) throws {
            if restartAt.map({ now >= $0 }) ?? true {
                restartAt = nil
                let restarted = try fleet.restartDead()
                if !restarted.isEmpty { Terminal.say("[chaos] \(at(.now)) s: restarted \(restarted.joined(separator: ", "))") }
            }
            while let first = replacements.first, now >= first.due {
                replacements.removeFirst()
                Terminal.say("[chaos] \(at(.now)) s: replacement on a fresh disk: \(try fleet.addInstance(of: first.worker))")
            }
        }
        var liveByWorker: [String: [String]] {
            Dictionary(grouping: fleet.liveInstances, by: \.worker).mapValues { $0.map(\.name) }
        }
        func instanceLine() -> String {
            let live = liveByWorker
            return FleetUnderTest.workerNames.map { "\($0) \(live[$0]?.count ?? 0)" }.joined(separator: ", ")
        }

        while true {
            let now = ContinuousClock.now
            let counts = collector.counts()
            if counts.finalized >= applications { break }
            if draining == nil {
                var allowed = min(applications, counts.finalized + window)
                if let rate { allowed = min(allowed, Int((now - start).seconds * rate) + 1) }
                while next < allowed {
                    feeder.enqueue(ProducerRecord(topic: CardTopics.submission, key: input[next].key, value: input[next].value), label: input[next].submissionID)
                    next += 1
                }
            }
            if counts.statuses > seen { seen = counts.statuses; lastGrowth = now }

            // Worker events (none while a retention pass waits for the fleet to catch up).
            if draining == nil, let due = nextKill, now >= due, (maxKills.map { events.values.reduce(0, +) < $0 } ?? true),
               let event = WorkerEvent.choose(live: liveByWorker, pending: Dictionary(replacements.map { ($0.worker, 1) }, uniquingKeysWith: +),
                                              workers: FleetUnderTest.workerNames, instances: instances, next: { rng.next() }) {
                let what = try fire(event)
                Terminal.say("[chaos] \(at(now)) s: \(what)")
                nextKill = now + jitter(killEvery)
            }
            try startDue(now: ContinuousClock.now)

            // Broker faults.
            if let (upAt, broker) = brokerUpAt, now >= upAt {
                fleet.cluster.setBrokerUp(broker)
                Terminal.say("[chaos] \(at(now)) s: broker \(broker) up")
                brokerUpAt = nil
            }
            if draining == nil, let due = nextFault, now >= due, (maxFaults.map { faultsInjected.values.reduce(0, +) < $0 } ?? true) {
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
                Terminal.say("[chaos] \(at(now)) s: fault: \(fault.rawValue)\(detail)")
                nextFault = now + .milliseconds(Int64(faultEvery * 1000))
            }

            // Retention: pause the feed and the chaos, wait until the fleet has caught up, push the inputs out.
            if draining == nil, let due = nextRetention, now >= due {
                draining = (now, false)
                retention.resetQuiet()
                Terminal.say("[chaos] \(at(now)) s: retention pass due: feed and chaos paused until the fleet has caught up")
            }
            if let (since, firstWaveSent) = draining, now - lastQuietCheck >= .seconds(1) {
                lastQuietCheck = now
                let settled = counts.finalized >= next && brokerUpAt == nil && replacements.isEmpty && restartAt == nil
                    && fleet.running.values.allSatisfy { $0 }
                if settled && retention.isQuiet() {
                    if !firstWaveSent {
                        beginRetention()
                        draining = (ContinuousClock.now, true)
                    } else {
                        Terminal.say("[chaos] \(at(.now)) s: " + retention.finish())
                        draining = nil
                        nextRetention = ContinuousClock.now + .milliseconds(Int64(retentionPeriod))
                    }
                    lastGrowth = .now
                } else if !settled {
                    retention.resetQuiet()
                }
                if draining != nil, (now - since).seconds > max(60, stallTimeout / 2) {
                    retention.noteSkipped()
                    Terminal.say("[chaos] \(at(now)) s: retention pass skipped: the fleet did not catch up in \(Int((now - since).seconds)) s")
                    draining = nil
                    nextRetention = now + .milliseconds(Int64(retentionPeriod))
                }
            }

            if now - lastProgress >= .milliseconds(Int64(progressEvery * 1000)) {
                lastProgress = now
                fleet.samplePeakRSS()
                Terminal.say("[progress] \(at(now)) s: submitted \(next)/\(applications), ended \(counts.finalized), statuses \(counts.statuses), card orders \(counts.orders), dead letters \(counts.deadLetters)"
                             + (instances > 1 ? "; instances \(instanceLine())" : ""))
            }
            if draining == nil, (now - lastGrowth).seconds > stallTimeout {
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
        brokerUpAt = nil
        restartAt = nil
        replacements = replacements.map { (due: ContinuousClock.now, worker: $0.worker) }
        try startDue(now: .now)
        Terminal.say("chaos stopped after \(RunFormat.seconds(elapsed)) s; no more kills or faults: waiting for every application to end")
        // Calm phase: restarted workers need a session timeout and a rebalance before they resume.
        func waitForStatuses(until done: () -> Bool, onStall: () -> String) -> String? {
            var calmGrowth = ContinuousClock.now
            var calmSeen = collector.counts().statuses
            while true {
                let counts = collector.counts()
                if done() { return nil }
                // The rest of the input, still within the retention-safe window.
                while next < min(applications, counts.finalized + window) {
                    feeder.enqueue(ProducerRecord(topic: CardTopics.submission, key: input[next].key, value: input[next].value), label: input[next].submissionID)
                    next += 1
                }
                if counts.statuses > calmSeen { calmSeen = counts.statuses; calmGrowth = .now }
                if (ContinuousClock.now - calmGrowth).seconds > calmTimeout { return onStall() }
                _ = try? fleet.restartDead()
                usleep(100_000)
            }
        }
        problem = waitForStatuses(until: { collector.counts().finalized >= applications }) {
            "no new status for \(Int(calmTimeout)) s after the chaos stopped: \(collector.counts().finalized)/\(applications) ended"
        }
        Terminal.say("calm phase: \(collector.counts().finalized)/\(applications) ended after \(RunFormat.seconds((ContinuousClock.now - start).seconds - elapsed)) s")

        // Finale and probes (--instances > 1): the inputs pushed out once more, one instance of every
        // type killed with its disk lost, then the probes against the state that moved.
        var probes = ChaosProbes()
        var expectedAll = expected
        if problem == nil, sample > 0 || instances > 1 {
            if retentionPeriod > 0 {
                let since = ContinuousClock.now
                retention.resetQuiet()
                var ran = false, firstWaveSent = false
                while (ContinuousClock.now - since).seconds < calmTimeout {
                    if fleet.running.values.allSatisfy({ $0 }) && retention.isQuiet() {
                        if firstWaveSent { ran = true; break }
                        beginRetention()
                        firstWaveSent = true
                    }
                    _ = try? fleet.restartDead()
                    usleep(1_000_000)
                }
                if ran { Terminal.say("finale: " + retention.finish()) } else { retention.noteSkipped(); Terminal.say("finale: retention pass skipped: the fleet did not catch up") }
            }
            if instances > 1 {
                for worker in FleetUnderTest.workerNames {
                    guard let victim = fleet.instances(of: worker).first else { continue }
                    let what = try fire(.killReplace(instance: victim, worker: worker))
                    Terminal.say("finale: \(what): \(try fleet.addInstance(of: worker))")
                }
                replacements.removeAll()
            }
            if sample > 0 {
                let state = collector.snapshot
                var finalStatus: [String: String] = [:]
                for copy in state.statuses.values where finals.contains(copy.status) { finalStatus[copy.application] = copy.status }
                probes = ChaosProbes.pick(input: input, finalStatus: finalStatus, sample: sample)
                for probe in probes.reapplications {
                    feeder.enqueue(ProducerRecord(topic: CardTopics.submission, key: probe.application.key, value: probe.application.value),
                                   label: probe.application.submissionID)
                    expectedAll[probe.application.submissionID] = false
                }
                for record in try probes.bankEvents(at: Timestamp.now()) { feeder.enqueue(record, label: "bank event") }
                Terminal.say("probes sent: \(probes.reapplications.filter(\.freed).count) freed and \(probes.reapplications.filter { !$0.freed }.count) active children apply again; bank events for \(probes.bankSample.count) orders")
                let probeStart = ContinuousClock.now
                if let stalled = waitForStatuses(until: { probes.answered(collector.snapshot) }, onStall: {
                    "probes: no new status for \(Int(calmTimeout)) s and not every probe answered"
                }) {
                    problem = stalled
                }
                Terminal.say("probes answered after \(RunFormat.seconds((ContinuousClock.now - probeStart).seconds)) s")
            }
        }
        usleep(3_000_000)
        try? feeder.flush(timeout: .seconds(30))
        let stopStatuses = fleet.stopAll()
        usleep(1_500_000)
        collector.stopReading()
        tracer.stopReading()

        let collected = collector.snapshot
        let state = probes.withoutBankAnswers(collected)
        var verification = RunVerification.verify(state, expected: expectedAll, finals: finals)
        if !feeder.failed.isEmpty { verification.violations.append("\(feeder.failed.count) submission(s) not delivered: \(feeder.failed[0])") }
        let gaps = fleet.gapLines()
        if !gaps.isEmpty { verification.violations.append("\(gaps.count) OFFSET GAP line(s) in the worker logs, e.g. \(gaps[0])") }
        if !state.deadLetters.isEmpty {
            verification.violations.append("\(state.deadLetters.count) dead letter(s) from valid JSON submissions, e.g. \(state.deadLetters.values.first!.error)")
        }
        if let problem { verification.violations.append(problem) }
        let probeCheck = probes.check(collected)
        if sample > 0 { verification.lines += probeCheck.lines }
        verification.violations += probeCheck.violations
        verification.violations += retention.problems
        if !retention.failedDeliveries.isEmpty {
            verification.violations.append("\(retention.failedDeliveries.count) retention filler(s) not delivered: \(retention.failedDeliveries[0])")
        }
        if instances > 1 {
            let removed = fleet.retiredExitStatuses.filter { $0.value != 0 }
            if !removed.isEmpty { verification.violations.append("instance(s) removed with SIGTERM did not exit 0: \(removed.sorted { $0.key < $1.key })") }
        }

        Terminal.say("")
        Terminal.say("chaos figures: \(applications) applications in \(RunFormat.seconds(elapsed)) s (\(RunFormat.rate(Double(applications) / elapsed)) applications/s under chaos)")
        let kills = fleet.killsByWorker, restarts = fleet.restartsByWorker
        Terminal.say("kills: \(kills.values.reduce(0, +)) SIGKILL (" + FleetUnderTest.workerNames.map { "\($0) \(kills[$0, default: 0])" }.joined(separator: ", ")
                     + "); restarts: \(restarts.values.reduce(0, +)); unexpected exits: \(fleet.unexpectedExits.isEmpty ? "none" : "\(fleet.unexpectedExits)")")
        // Why each one exited: the work folder is removed on PASS, so say it here (worker log lines are masked).
        for name in fleet.unexpectedExits.keys.sorted() {
            let reasons = fleet.logText(name).split(separator: "\n").filter { $0.contains(" error ") || $0.contains(" critical ") }
                .filter { !$0.contains("rdkafka.facility") }.suffix(3)
            for line in reasons { Terminal.say("  \(name) exit reason: \(line.prefix(400))") }
            if reasons.isEmpty { Terminal.say("  \(name): no error line in its log") }
        }
        if instances > 1 {
            let started = fleet.instancesStarted
            let tally: String = WorkerEvent.kinds.map { (kind: String) -> String in "\(events[kind, default: 0])× \(kind)" }.joined(separator: ", ")
            let ran: String = FleetUnderTest.workerNames.map { (worker: String) -> String in "\(worker) \(started[worker, default: 0])" }.joined(separator: ", ")
            let total = events.values.reduce(0, +)
            Terminal.say("worker events: \(total) (\(tally)); instances that ran: \(ran); live at the end: \(instanceLine())")
        }
        if instances > 1 {
            // Owners' openings (state.role=active) and standby copies (state.role=standby) counted apart.
            func count(_ line: String, _ role: String) -> Int { fleet.logLineCount(containing: line, and: "state.role=\(role)") }
            Terminal.say("state moves: \(count("partition state restored from the changelog", "active")) partition restore(s) from the changelog, "
                         + "\(count("caught up from the changelog in place", "active")) caught up in place, "
                         + "\(count("local file used as is", "active")) local file(s) used as is, "
                         + "\(fleet.logLineCount(containing: "standby copy handed over to the active owner")) from standby copies (worker logs)")
            Terminal.say("standby copies: \(count("partition state restored from the changelog", "standby")) restored, "
                         + "\(count("caught up from the changelog in place", "standby")) caught up in place, "
                         + "\(count("local file used as is", "standby")) current when placed")
            do {
                Terminal.say(try StandbyLagReport.read(bootstrapServers: fleet.servers).line)
            } catch {
                Terminal.say("standby lag: the membership topic could not be read (\(error))")
            }
        }
        if retentionPeriod > 0 {
            Terminal.say("input retention: \(retention.passes) pass(es), \(retention.skipped) skipped; \(retention.partitionsEmptied) input partition logs emptied of \(retention.recordsDropped) older records; \(retention.partitionsKept) kept (nothing applied there to pad with)")
        }
        Terminal.say("broker faults: \(faultsInjected.values.reduce(0, +)) (" + Fault.allCases.map { "\(faultsInjected[$0.rawValue, default: 0])× \($0.rawValue)" }.joined(separator: "; ") + ")")
        Terminal.say("graceful stop exit statuses: " + stopStatuses.keys.sorted().map { "\($0) \(stopStatuses[$0].flatMap { $0 }.map(String.init) ?? "-")" }.joined(separator: ", "))
        let rss = fleet.peakRSSByWorker
        Terminal.say("peak RSS: " + FleetUnderTest.workerNames.map { "\($0) \(RunFormat.mib(rss[$0])) MiB" }.joined(separator: ", "))
        for line in verification.lines { Terminal.say(line) }
        for violation in verification.violations { Terminal.say("VIOLATION: \(violation)") }
        let unfinished = expectedAll.keys.filter { !state.finalized.contains($0) }.sorted()
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
