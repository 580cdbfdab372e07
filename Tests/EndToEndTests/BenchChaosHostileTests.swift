import CardDomain
import CardWorkers
@testable import ProvingTools
import FleetSupport
import Foundation
import Kafka
import Testing

/// `fleet bench`, `fleet chaos` and `fleet hostile` at CI size, each as a child process of the real
/// executable, plus the verifier on hand-made outputs. Speed figures are printed, never asserted.
@Suite("Bench, chaos and hostile runs", .serialized, .timeLimit(.minutes(10)))
struct BenchChaosHostileTests {
    /// Runs `fleet <arguments>` to completion; returns its exit status and output.
    private func fleet(_ arguments: [String], timeout: Duration) async throws -> (status: Int32?, output: String, directory: URL) {
        let executable = BuildProducts.executable("fleet")
        try #require(FileManager.default.isExecutableFile(atPath: executable.path), "fleet not built at \(executable.path)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bch-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let log = directory.appendingPathComponent("run.log")
        let child = try ChildProcess(name: arguments[0], executable: executable,
                                     arguments: arguments + ["--topics-dir", PipelineHarness.repositoryRoot.appendingPathComponent("Topics").path],
                                     workingDirectory: directory, logFile: log)
        let status = await child.waitAsync(timeout: timeout)
        if status == nil { child.signal(SIGKILL) }
        let output = readGrowingTextFile(log)
        print(output.split(separator: "\n").filter { !$0.hasPrefix("[") && !$0.contains(" error card.") }.joined(separator: "\n"))
        return (status, output, directory)
    }

    private func number(after prefix: String, in output: String) -> Int? {
        guard let range = output.range(of: prefix) else { return nil }
        return Int(output[range.upperBound...].prefix { $0.isNumber })
    }

    @Test("fleet bench --applications 500: relay and fleet measured, every application at its card order once, JSON and PNG written")
    func bench() async throws {
        let run = try await fleet(["bench", "--applications", "500", "--json", "bench.json", "--plot", "bench.png"], timeout: .seconds(420))
        defer { try? FileManager.default.removeItem(at: run.directory) }
        #expect(run.status == 0, "exit status; output:\n\(run.output)")
        #expect(run.output.contains("bench: PASS"))
        #expect(run.output.contains("verified: 500 application(s): 500 with exactly one final status"), "\(run.output)")
        #expect(run.output.contains("500 in_production, 0 rejected; 0 lost"))
        #expect(run.output.contains("orders: 500 distinct"))
        #expect(run.output.contains("ratio b/a: "))
        #expect(run.output.contains("latency submission → routed: p50 "))

        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: run.directory.appendingPathComponent("bench.json"))) as? [String: Any]
        let fleetPart = json?["fleet"] as? [String: Any]
        let relay = json?["relay"] as? [String: Any]
        #expect((fleetPart?["rate"] as? Double ?? 0) > 0)
        #expect((relay?["rate"] as? Double ?? 0) > 0)
        #expect((json?["ratio"] as? Double ?? 0) > 0)
        #expect((fleetPart?["latencyOrder"] as? [String: Any])?["count"] as? Int == 500)
        let rss = fleetPart?["peakRSS"] as? [String: Int] ?? [:]
        #expect(Set(rss.keys) == Set(FleetUnderTest.workerNames) && rss.values.allSatisfy { $0 > 0 }, "peak RSS of every worker: \(rss)")
        // CPU per application of every worker (a worker that did anything used some), and per record of every relay hop.
        let cpu = fleetPart?["cpuMsPerApplication"] as? [String: Double] ?? [:]
        #expect(Set(cpu.keys) == Set(FleetUnderTest.workerNames) && cpu.values.allSatisfy { $0 > 0 }, "CPU of every worker: \(cpu)")
        let relayCPU = relay?["cpuMsPerRecord"] as? [String: Double] ?? [:]
        // A Swift hop also relays 500 records in about one of /proc's 10 ms ticks, so one hop may read 0
        // (as for the C hops below); the four together cannot.
        #expect(Set(relayCPU.keys) == ["relay-0", "relay-1", "relay-2", "relay-3"] && relayCPU.values.allSatisfy { $0 >= 0 }
                    && relayCPU.values.reduce(0, +) > 0, "CPU of every relay hop: \(relayCPU)")
        // The C-speed baseline ran in the same run, relayed every record, and the ratios were computed from it.
        let cRelay = json?["cRelay"] as? [String: Any]
        #expect((cRelay?["rate"] as? Double ?? 0) > 0 && cRelay?["problem"] == nil, "C relay: \(String(describing: cRelay))")
        let cRelayCPU = cRelay?["cpuMsPerRecord"] as? [String: Double] ?? [:]
        // A C hop relays 500 records in less than /proc's 10 ms tick, so one hop may read 0; the four together cannot.
        #expect(Set(cRelayCPU.keys) == ["c-relay-0", "c-relay-1", "c-relay-2", "c-relay-3"]
                && cRelayCPU.values.allSatisfy { $0 >= 0 } && cRelayCPU.values.reduce(0, +) > 0,
                "CPU of every C relay hop: \(cRelayCPU)")
        #expect((json?["ratioToC"] as? Double ?? 0) > 0 && (json?["swiftRelayToC"] as? Double ?? 0) > 0)
        #expect(run.output.contains("(c) raw C relay, 4 hops: "))
        #expect(run.output.contains("ratio b/c (fleet to C relay): "))
        #expect(run.output.contains("(b) CPU per application, ms (user+system from /proc): intake "))
        #expect(json?["ok"] as? Bool == true)

        // The plot needs matplotlib (scripts/install-deps.sh installs it); where it is missing the bench only warns.
        let matplotlib = try FleetTestRun.python(["-c", "import matplotlib"]) == 0
        if matplotlib {
            let png = try Data(contentsOf: run.directory.appendingPathComponent("bench.png"))
            #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]), "a PNG file")
        }
    }

    @Test("fleet chaos --applications 2000 with SIGKILLs and broker faults: every application ends exactly once, nothing lost or duplicated")
    func chaos() async throws {
        let run = try await fleet(["chaos", "--applications", "2000", "--kill-every", "3", "--max-kills", "4",
                                   "--fault-every", "1.5", "--max-faults", "6", "--window", "400", "--seed", "42"], timeout: .seconds(480))
        defer { try? FileManager.default.removeItem(at: run.directory) }
        #expect(run.status == 0, "exit status; output:\n\(run.output)")
        #expect(run.output.contains("chaos: PASS"))
        #expect(run.output.contains("verified: 2000 application(s): 2000 with exactly one final status"), "\(run.output)")
        #expect(run.output.contains("; 0 lost"))
        #expect(run.output.contains(", 0 duplicated, 0 seq gap(s), 0 conflicting"))
        #expect(run.output.contains(", 0 duplicated, 0 missing, 0 without in_production, 0 conflicting"))
        #expect((number(after: "kills: ", in: run.output) ?? 0) >= 1, "at least one worker was killed")
        #expect((number(after: "broker faults: ", in: run.output) ?? 0) >= 2, "broker faults were injected")
        #expect(run.output.contains("× a broker goes down") && !run.output.contains("0× a broker goes down"), "a broker went down")
        #expect(!run.output.contains("VIOLATION"))
    }

    @Test("fleet chaos --instances 3: instances added, removed, killed -9 on their own disks, inputs pushed out by retention; every application ends once, no child blocked, no order forgotten")
    func chaosInstances() async throws {
        let run = try await fleet(["chaos", "--instances", "3", "--applications", "240", "--rate", "12", "--window", "100",
                                   "--kill-every", "2.5", "--max-kills", "10", "--restart-delay", "0.5",
                                   "--fault-every", "5", "--max-faults", "3", "--input-retention-ms", "12000",
                                   "--probe-sample", "5", "--late-share", "0.1", "--seed", "13"], timeout: .seconds(480))
        defer { try? FileManager.default.removeItem(at: run.directory) }
        #expect(run.status == 0, "exit status; output:\n\(run.output)")
        #expect(run.output.contains("chaos: PASS"))
        // 240 applications and 10 probes (5 freed children and 5 active ones applying again).
        #expect(run.output.contains("verified: 250 application(s): 250 with exactly one final status"), "\(run.output)")
        #expect(run.output.contains("; 0 lost"))
        #expect(run.output.contains(", 0 duplicated, 0 seq gap(s), 0 conflicting"))
        #expect(run.output.contains(", 0 duplicated, 0 missing, 0 without in_production, 0 conflicting"))
        #expect(run.output.contains("probes: 5 freed child(ren) applied again: 5 received, 0 blocked; 5 active child(ren) applied again: 5 refused (DUPLICATE_ACTIVE_APPLICATION), 0 taken twice; 5 order(s) given bank events: 5 ready_for_pickup, 0 forgotten"), "\(run.output)")
        // The chaos did what it says: worker events, disks lost, retention passes that emptied partitions, restores.
        #expect((number(after: "worker events: ", in: run.output) ?? 0) >= 6, "worker events happened (the finale makes 4 of them)")
        #expect((number(after: "input retention: ", in: run.output) ?? 0) >= 2, "retention passes (one in the chaos, the finale's)")
        #expect(!run.output.contains("input retention: 0 pass"))
        let emptied = run.output.range(of: " pass(es), ").flatMap { range in
            run.output[range.upperBound...].split(separator: ";").dropFirst().first.flatMap { Int($0.trimmingCharacters(in: .whitespaces).prefix { $0.isNumber }) }
        }
        #expect((emptied ?? 0) > 0, "input partitions emptied by retention")
        #expect(run.output.contains("finale: SIGKILL intake-"), "the finale replaced an intake on a fresh disk")
        // "state moves: R restore(s), C caught up in place, U used as is, S from standby copies": the
        // finale's fresh disk restores; the others may take moved partitions from their standby copies.
        let moves = run.output.range(of: "state moves: ").map { range in
            run.output[range.upperBound...].prefix { $0 != "\n" }.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        } ?? []
        #expect(moves.count == 4, "the state moves line: \(moves)")
        #expect((moves.first ?? 0) >= 1, "partitions restored from the changelog on fresh disks")
        #expect(moves.count == 4 && moves[0] + moves[1] + moves[3] >= 4, "partitions moved with their state (restored, caught up, or from copies): \(moves)")
        #expect(!run.output.contains("VIOLATION"))
    }

    @Test("fleet hostile --records 1000: no crash, every record a rejected status or a dead letter (or a documented no-op), no personal data in logs")
    func hostile() async throws {
        let run = try await fleet(["hostile", "--records", "1000", "--seed", "7", "--settle-seconds", "10"], timeout: .seconds(420))
        defer { try? FileManager.default.removeItem(at: run.directory) }
        #expect(run.status == 0, "exit status; output:\n\(run.output)")
        #expect(run.output.contains("hostile: PASS"))
        #expect(run.output.contains("hostile figures: 1000 records published"))
        #expect(run.output.contains("crashes: 0 (restarts 0)"))
        #expect(run.output.contains("; 0 unaccounted)"))
        // Sizes (ow-04a, ow-04c): both kinds are published every run and each ends in its rejection.
        #expect(run.output.contains("size: amplifier: 20,000 non-strings in card.functions: rejected with SCHEMA_INVALID"))
        #expect(run.output.contains("size: 1040000-byte submission (legal for a Java producer): rejected with SUBMISSION_TOO_LARGE"))
        #expect(run.output.contains(", 0 found unmasked in worker logs or dead-letter causes"))
        #expect((number(after: "hostile figures: ", in: run.output) ?? 0) >= 1000)
        #expect(!run.output.contains("VIOLATION"))
    }

    // MARK: - The verifier itself

    private func status(_ app: String, _ seq: Int, _ status: String, reasons: Int = 0, hash: UInt64 = 1) -> (String, OutputCollector.StatusCopy) {
        ("\(app)/status/\(seq)", .init(hash: hash, application: app, seq: seq, status: status, timestamp: 0, reasons: reasons))
    }

    @Test("The verifier passes a clean run and names every kind of violation")
    func verifier() {
        let finals: Set<String> = ["in_production", "rejected"]
        var clean = OutputCollector.State()
        for (id, copy) in [status("a", 1, "received"), status("a", 2, "identity_verified"), status("a", 3, "routed"),
                           status("a", 4, "in_production"), status("b", 1, "rejected", reasons: 2)] {
            clean.statuses[id] = copy
        }
        clean.orders["a/order"] = .init(hash: 9, application: "a", timestamp: 0)
        clean.rawStatuses = 7  // two re-sends
        clean.rawOrders = 1
        let ok = RunVerification.verify(clean, expected: ["a": true, "b": false], finals: finals)
        #expect(ok.violations.isEmpty, "\(ok.violations)")
        #expect(ok.statusResends == 2)

        var broken = clean
        broken.statuses["b/status/1"] = nil                                    // b lost
        broken.statuses["a/status/5"] = status("a", 6, "in_production").1      // a: a second final, seq gap
        broken.orders["a/order-again"] = .init(hash: 3, application: "a", timestamp: 0)  // a: two orders
        broken.conflicts = ["card.status a/status/2"]
        let bad = RunVerification.verify(broken, expected: ["a": true, "b": false, "c": true], finals: finals)
        let text = bad.violations.joined(separator: "\n")
        #expect(text.contains("LOST"))
        #expect(text.contains("more than one final status"))
        #expect(text.contains("seq is not contiguous"))
        #expect(text.contains("more than one card order"))
        #expect(text.contains("different content"))

        // A conflict names what differs: the status, the reasons, or only the event time (a decision made twice).
        let first = status("a", 2, "identity_verified").1
        var decidedAgain = first
        decidedAgain.at = "2026-11-30T10:00:01+08:00"
        var other = first
        other.status = "rejected"
        var reasons = first
        reasons.reasons = 2
        #expect(OutputCollector.difference(first, other) == "status identity_verified vs rejected")
        #expect(OutputCollector.difference(first, reasons) == "identity_verified, 0 vs 2 reasons")
        #expect(OutputCollector.difference(first, decidedAgain) == "identity_verified, at - vs 2026-11-30T10:00:01+08:00")
        #expect(OutputCollector.difference(first, first) == "identity_verified, same at, other fields differ")
        #expect(OutputCollector.stringField("at", in: Array(#"{"status":"routed","at":"2026-11-30T10:00:00+08:00","seq":3}"#.utf8)) == "2026-11-30T10:00:00+08:00")
    }

    @Test("Chaos worker events keep 1 to N+1 live instances per type; --instances 1 only kills and restarts")
    func workerEvents() {
        var rng = SplitMix64(seed: 5)
        let workers = FleetUnderTest.workerNames
        for _ in 0..<300 {
            let one = WorkerEvent.choose(live: ["intake": ["intake"]], workers: workers, instances: 1, next: { rng.next() })
            #expect(one == .killRestart(instance: "intake"))
        }
        var kinds = Set<String>()
        for _ in 0..<500 {
            // intake at N+1 (never another add), identity at 1 (never a removal), routing with a replacement pending.
            let live = ["intake": ["intake-1", "intake-2", "intake-3", "intake-4"], "identity": ["identity-2"],
                        "routing": ["routing-1", "routing-3"], "production": ["production-1", "production-2", "production-3"]]
            guard let event = WorkerEvent.choose(live: live, pending: ["routing": 2], workers: workers, instances: 3, next: { rng.next() }) else {
                Issue.record("no event"); continue
            }
            kinds.insert(event.kind)
            switch event {
            case .add(let worker): #expect(worker == "production" || worker == "identity", "intake is at N+1, routing too counting its pending replacements")
            case .remove(let instance): #expect(!instance.hasPrefix("identity"), "identity keeps its last instance")
            case .killRestart(let instance), .killReplace(let instance, _): #expect(live.values.contains { $0.contains(instance) })
            }
        }
        #expect(kinds == Set(WorkerEvent.kinds), "every kind happens: \(kinds)")
    }

    @Test("Retention fillers: over the embedded broker's 5 MiB per partition, and each one a no-op for an owner that kept its state")
    func retentionFillers() throws {
        let population = ScaledPopulation(families: 40, invalidShare: 0, lateShare: 0, seed: 11, runID: "rf")
        let apps = population.applications(0..<60, at: Timestamp.now())
        let submissions = apps.map { (key: $0.key, value: $0.value) }
        let applied = ["card.identity-verification": [InputRetention.Applied(partition: 3, application: "a1", messageID: "a1/card.identity-verification")]]
        let (records, uncovered) = InputRetention.fillers(pass: 1, partitions: { _ in 24 }, holdsRecords: { topic, partition in
            topic != "card.bank-routing" || partition == 0
        }, submissions: submissions, applied: applied)
        var bytes: [String: Int] = [:]
        for record in records { bytes["\(record.topic)[\(record.partition ?? -1)]", default: 0] += record.value?.count ?? 0 }
        #expect(bytes.values.allSatisfy { $0 > 5 * 1024 * 1024 }, "every padded partition gets more than the mock's 5 MiB cap in all")
        #expect(InputRetention.firstWave * InputRetention.fillerBytes < 5 * 1024 * 1024 - 64 * 1024, "the first wave alone stays under the cap")
        #expect(bytes["card.identity-verification[3]"] != nil && bytes["card.identity-verification[4]"] == nil)
        #expect(uncovered.contains("card.identity-verification[4]") && uncovered.contains("card.bank-routing[0]"))
        #expect(!uncovered.contains { $0.hasPrefix("card.bank-routing[1]") }, "an empty partition needs no filler")
        #expect((0..<24).allSatisfy { bytes["card.application-closed[\($0)]"] != nil })
        for record in records where record.topic == "card.identity-verification" {
            #expect(record.headers.first { $0.name == "card-message-id" }?.value == Array("a1/card.identity-verification".utf8))
        }
        // A padded submission keeps its id and contract key (so intake drops it as "the same submission_id again")
        // and lands on the partition of its key.
        let submissionFillers = records.filter { $0.topic == "card.submission" }
        #expect(!submissionFillers.isEmpty)
        for record in submissionFillers.prefix(12) {
            let original = try #require(apps.first { $0.key == record.key })
            guard case .parsed(let parsed) = IntakeValidator.validate(record.value ?? []) else { Issue.record("not parsed"); continue }
            #expect(parsed.submissionID == original.submissionID)
            #expect(ContractKeys.submission(record.value ?? []) == String(decoding: original.key, as: UTF8.self))
            #expect(record.partition == KafkaPartitioner.fleetDefault.partition(forKey: original.key, partitionCount: 24))
        }
        // The same child applying again: a new id, the same contract key.
        let again = try #require(ChaosProbes.reapply(apps[0]))
        guard case .parsed(let parsed) = IntakeValidator.validate(again.value) else { Issue.record("re-application not parsed"); return }
        #expect(parsed.submissionID == apps[0].submissionID + "-r" && parsed.reasons.isEmpty, "\(parsed.reasons)")
        #expect(ContractKeys.submission(again.value) == String(decoding: apps[0].key, as: UTF8.self))
    }

    @Test("Scaled population: ID numbers stay valid and unique across generations, deliberately bad ones stay bad")
    func population() throws {
        let population = ScaledPopulation(families: 40, invalidShare: 0.1, lateShare: 0.03, seed: 3, runID: "t")
        let n = population.perGeneration * 3
        let apps = population.applications(0..<n, at: Timestamp.now())
        #expect(Set(apps.map(\.submissionID)).count == n)
        let accepted = apps.filter { $0.expected == .accepted }
        #expect(Set(accepted.map(\.key)).count == accepted.count, "no child twice")
        let records = try population.registryRecords(for: n)
        #expect(Set(records.compactMap(\.key)).count == records.count, "registry ID numbers unique over 3 generations")
        for app in accepted.prefix(200) {
            let key = String(decoding: app.key, as: UTF8.self)
            #expect(IDNumber(key) != nil, "valid remapped ID number")
            #expect(records.contains { $0.key == app.key }, "the applicant is in the registry")
        }
        let valid = "110105201503070013"
        #expect(IDNumber(ScaledPopulation.remap(valid, generation: 5)) != nil)
        let wrong = String(valid.dropLast()) + "9"
        #expect(IDNumber(wrong) == nil)
        #expect(IDNumber(ScaledPopulation.remap(wrong, generation: 5)) == nil)
    }
}

enum FleetTestRun {
    static func python(_ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
