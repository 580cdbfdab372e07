import CardDomain
import Foundation
import FleetSupport
import JSONCodec
import Kafka
import Logging
import Testing
@testable import DemoWorld

/// Finds unmasked personal data in text: ID numbers (GB 11643: 17 digits and a check character,
/// valid check and birth date, or one of the known people's) and mobiles (`1[3-9]` and 9 digits)
/// of the known people. Digits next to a candidate disqualify it (an 18-digit run inside a longer
/// number is not an ID number).
struct PersonalDataDetector: Sendable {
    var idNumbers: Set<String>
    var mobiles: Set<String>

    nonisolated(unsafe) private static let idPattern = try! NSRegularExpression(pattern: "(?<![0-9])[1-9][0-9]{16}[0-9Xx](?![0-9Xx])")
    nonisolated(unsafe) private static let mobilePattern = try! NSRegularExpression(pattern: "(?<![0-9])1[3-9][0-9]{9}(?![0-9])")

    /// Each unmasked value found, masked again for the report, with a little masked context.
    func findings(in text: String) -> [String] {
        let range = NSRange(text.startIndex..., in: text)
        var found: [String] = []
        for match in Self.idPattern.matches(in: text, range: range) {
            let value = String(text[Range(match.range, in: text)!])
            if idNumbers.contains(value.uppercased()) || IDNumber(value) != nil {
                found.append("ID number \(Masking.idNumber(value)) near “\(context(text, match.range))”")
            }
        }
        for match in Self.mobilePattern.matches(in: text, range: range) {
            let value = String(text[Range(match.range, in: text)!])
            if mobiles.contains(value) { found.append("mobile \(Masking.mobile(value)) near “\(context(text, match.range))”") }
        }
        return found
    }

    private func context(_ text: String, _ range: NSRange) -> String {
        let ns = text as NSString
        let start = max(0, range.location - 40), end = min(ns.length, range.location + range.length + 40)
        return Masking.redact(ns.substring(with: NSRange(location: start, length: end - start))).replacingOccurrences(of: "\n", with: " ")
    }

    /// The people `fleet seed` publishes (`fleet up --demo` seeds 2,000 families).
    static func demo(families: Int = 2000) -> PersonalDataDetector {
        let people = (0..<families).flatMap { DemoFamilies.family($0).members }
        return PersonalDataDetector(idNumbers: Set(people.map(\.idNumber)), mobiles: Set(people.map(\.mobile)))
    }
}

/// A running `fleet up --demo` (embedded broker, four workers, seed, bank, generated submissions,
/// ops page), with where each of its surfaces answers.
final class FleetRun: @unchecked Sendable {
    static let workers = ["intake", "identity", "routing", "production"]
    let runDir: URL
    let opsPort: Int
    let workerPorts: [String: Int]
    let console: URL
    private let process: ChildProcess
    /// Filled by the test once the run has them: ids `fleet status` and `fleet dlq show` take.
    var applicationIDs: [String] = []
    var deadLetterIDs: [String] = []

    var ops: String { "http://127.0.0.1:\(opsPort)" }
    func worker(_ name: String) -> String { "http://127.0.0.1:\(workerPorts[name]!)" }

    init(submissions: Int, rate: Int) throws {
        runDir = FileManager.default.temporaryDirectory.appendingPathComponent("masking-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: runDir, withIntermediateDirectories: true)
        opsPort = OpsSupport.freePort()
        let base = OpsSupport.freePortBlock(Self.workers.count)
        workerPorts = Dictionary(uniqueKeysWithValues: Self.workers.enumerated().map { ($0.element, base + $0.offset) })
        console = runDir.appendingPathComponent("console.log")
        process = try ChildProcess(
            name: "fleet-up", executable: BuildProducts.executable("fleet"),
            arguments: ["up", "--demo", "--submissions", "\(submissions)", "--rate", "\(rate)", "--run-dir", runDir.path,
                        "--topics-dir", OpsSupport.repositoryRoot.appendingPathComponent("Topics").path,
                        "--ops-port", "\(opsPort)", "--worker-ops-port", "\(base)"],
            logFile: console)
    }

    var bootstrapServers: String? {
        (try? String(contentsOf: runDir.appendingPathComponent("bootstrap"), encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs `fleet <arguments>` against this run; its output (stdout and stderr) whatever the exit status.
    func fleet(_ arguments: [String]) async throws -> String {
        let log = runDir.appendingPathComponent("fleet-\(UUID().uuidString).log")
        let child = try ChildProcess(name: "fleet", executable: BuildProducts.executable("fleet"), arguments: arguments, logFile: log)
        if await child.waitAsync(timeout: .seconds(60)) == nil { child.signal(SIGKILL) }
        return readGrowingTextFile(log)
    }

    func stop() async { await process.stop() }

    deinit {
        process.signal(SIGKILL)
        try? FileManager.default.removeItem(at: runDir)
    }
}

/// One surface of a run: a name and how to read its text. A new surface is one line in
/// ``MaskingSweepTests/surfaces``, e.g. `.http("gateway status") { "\($0.gateway)/v1/applications/\($0.applicationIDs[0])" }`.
struct Surface: Sendable {
    var name: String
    var read: @Sendable (FleetRun) async throws -> String

    /// A GET; a surface that does not answer fails the sweep (nothing unread may pass as clean).
    static func http(_ name: String, _ url: @escaping @Sendable (FleetRun) -> String) -> Surface {
        Surface(name: name) { run in
            guard let response = await OpsSupport.get(url(run)) else { throw SweepError.noAnswer(url(run)) }
            return response.body
        }
    }

    /// A `fleet` subcommand's output.
    static func fleet(_ name: String, _ arguments: @escaping @Sendable (FleetRun) -> [String]) -> Surface {
        Surface(name: name) { run in try await run.fleet(arguments(run)) }
    }

    /// A file's text.
    static func file(_ name: String, _ path: @escaping @Sendable (FleetRun) -> URL) -> Surface {
        // Lossy UTF-8: a log still being written may end inside a character (readGrowingTextFile).
        Surface(name: name) { run in String(decoding: try Data(contentsOf: path(run)), as: UTF8.self) }
    }

    /// Files of the run folder (logs).
    static func files(_ name: String, _ folder: @escaping @Sendable (FleetRun) -> URL) -> Surface {
        Surface(name: name) { run in
            let dir = folder(run)
            let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
            return try names.map { String(decoding: try Data(contentsOf: dir.appendingPathComponent($0)), as: UTF8.self) }.joined(separator: "\n")
        }
    }

    enum SweepError: Error { case noAnswer(String) }
}

@Suite("Personal data stays masked on every surface of a run", .serialized, .timeLimit(.minutes(5)))
struct MaskingSweepTests {
    /// Every page, API response, command output and log a run exposes.
    static let surfaces: [Surface] = [
        .http("ops page") { "\($0.ops)/" },
        .http("ops page fragment") { "\($0.ops)/fragment" },
        .http("ops page /api/state") { "\($0.ops)/api/state" },
        .http("ops page /metrics") { "\($0.ops)/metrics" },
    ] + FleetRun.workers.flatMap { worker in
        ["/metrics", "/healthz", "/readyz"].map { path in Surface.http("\(worker) worker \(path)") { "\($0.worker(worker))\(path)" } }
    } + [
        .fleet("fleet lag") { ["lag", "--run-dir", $0.runDir.path, "--window", "2", "--all"] },
        .fleet("fleet lag --json") { ["lag", "--run-dir", $0.runDir.path, "--window", "2", "--json"] },
        .fleet("fleet status") { ["status", $0.applicationIDs[0], "--run-dir", $0.runDir.path] },
        .fleet("fleet status --json (a rejected application)") { ["status", $0.applicationIDs.last!, "--run-dir", $0.runDir.path, "--json"] },
        .fleet("fleet dlq list") { ["dlq", "list", "--run-dir", $0.runDir.path] },
        .fleet("fleet dlq list --json") { ["dlq", "list", "--run-dir", $0.runDir.path, "--json"] },
        .fleet("fleet dlq show") { ["dlq", "show", $0.deadLetterIDs[0], "--run-dir", $0.runDir.path] },
        .fleet("fleet dlq replay --dry-run") { ["dlq", "replay", $0.deadLetterIDs[0], "--run-dir", $0.runDir.path, "--reason", "masking sweep", "--dry-run"] },
        .file("fleet up's console") { $0.console },
        .files("worker and child logs") { $0.runDir.appendingPathComponent("logs") },
    ]

    /// The sweep must be able to fail: planted unmasked values are found, their masked forms are not.
    @Test("the detector finds a planted unmasked ID number and mobile and passes their masked forms")
    func detectorFindsPlantedValues() throws {
        let detector = PersonalDataDetector.demo(families: 5)
        let person = DemoFamilies.family(3).members[0]
        let planted = "{\"cause\":\"bad\",\"key\":\"\(person.idNumber)\",\"phone\":\"\(person.mobile)\"}"
        let found = detector.findings(in: planted)
        #expect(found.count == 2, "\(found)")
        #expect(found.allSatisfy { !$0.contains(person.idNumber) && !$0.contains(person.mobile) }, "the report itself masks")
        #expect(detector.findings(in: Masking.redact(planted)).isEmpty, "masked: \(Masking.redact(planted))")
        #expect(detector.findings(in: "key=\(Masking.idNumber(person.idNumber)) mobile=\(Masking.mobile(person.mobile))").isEmpty)
        // Any valid ID number counts, known or not; digits around a candidate make it no candidate.
        let stranger = try #require(IDNumber.make(region: "110105", birthDate: CivilDate(year: 2016, month: 2, day: 29)!, gender: .female))
        #expect(detector.findings(in: "id \(stranger.rawValue).").count == 1)
        #expect(detector.findings(in: "offset 9\(person.idNumber)1 and 0\(person.mobile)").isEmpty)
        // An invalid check character is no ID number (a request id, an offset).
        #expect(detector.findings(in: SubmissionGenerator.wrongCheckCharacter(stranger.rawValue)).isEmpty)
    }

    @Test("fleet up --demo: every page, API response, command output and log is free of unmasked ID numbers and mobiles")
    func everySurfaceIsMasked() async throws {
        let detector = PersonalDataDetector.demo()
        let run = try FleetRun(submissions: 120, rate: 40)
        do { try await sweep(run, detector) } catch {
            await run.stop()
            throw error
        }
        await run.stop()
    }

    func sweep(_ run: FleetRun, _ detector: PersonalDataDetector) async throws {

        // Up: the page answers and the seed and generated submissions have flowed.
        let state = await OpsSupport.waitFor("\(run.ops)/api/state", timeout: .seconds(120)) { status, body in
            status == 200 && (Self.applications(body) ?? 0) >= 60
        }
        #expect(state != nil && (Self.applications(state?.body ?? "") ?? 0) >= 60, "the run never got going: \(state?.body.prefix(300) ?? "no answer")")
        let servers = try #require(run.bootstrapServers)

        // Plant personal data where masking must hold: a submission that is not JSON, keyed and
        // filled with a seeded person's ID number and mobile, becomes a dead letter.
        let person = DemoFamilies.family(7).children[0]
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: servers)),
                                         logger: Logger(label: "test.masking"))
        let errors = await producer.send([ProducerRecord(topic: "card.submission", key: Array(person.idNumber.utf8),
                                                         value: Array("{oops id_number=\(person.idNumber) mobile=\(person.mobile)".utf8))])
        #expect(errors.allSatisfy { $0 == nil })
        let withLetter = await OpsSupport.waitFor("\(run.ops)/api/state", timeout: .seconds(60)) { _, body in
            body.contains("\"key\":\"\(Masking.idNumber(person.idNumber))\"")
        }
        #expect(withLetter != nil)

        // Ids the commands take: dead letters from the page; applications from card.status (a rejected one last).
        let letters = try JSONSerialization.jsonObject(with: Data((withLetter?.body ?? "{}").utf8)) as? [String: Any]
        // The planted one first (its key, masked, is the person's ID number masked).
        let rows = (letters?["dead_letters"] as? [[String: Any]]) ?? []
        run.deadLetterIDs = (rows.filter { $0["key"] as? String == Masking.idNumber(person.idNumber) } + rows).compactMap { $0["id"] as? String }
        let statuses = try await OffPool.run("masking-statuses") { () -> [StatusEvent] in
            let reader = try TopicReader(bootstrapServers: servers)
            try reader.start(["card.status"])
            return reader.read(timeout: .seconds(10)) { $0.count >= 60 }.messages.compactMap { try? CardJSON.decode(StatusEvent.self, from: $0.value ?? []) }
        }
        let rejected = statuses.first { $0.status == .rejected }
        run.applicationIDs = [statuses.first?.applicationID, rejected?.applicationID].compactMap { $0 }
        try #require(!run.deadLetterIDs.isEmpty && run.applicationIDs.count == 2, "dead letters \(run.deadLetterIDs), applications \(run.applicationIDs)")

        var swept: [String: Int] = [:]
        for surface in Self.surfaces {
            let text: String
            do { text = try await surface.read(run) } catch {
                Issue.record("\(surface.name): could not be read: \(error)")
                continue
            }
            swept[surface.name] = text.utf8.count
            if let dump = ProcessInfo.processInfo.environment["CARD_MASKING_SWEEP_DUMP"] {
                // For a person reading what the sweep saw: one file per surface.
                let name = surface.name.map { $0.isLetter || $0.isNumber ? $0 : "_" }
                try? text.write(toFile: "\(dump)/\(String(name)).txt", atomically: true, encoding: .utf8)
            }
            #expect(!text.isEmpty, "\(surface.name): nothing read")
            let found = detector.findings(in: text)
            #expect(found.isEmpty, "\(surface.name): \(found.count) unmasked value(s): \(found.prefix(5))")
        }
        // The same record revealed on purpose (`fleet dlq show --reveal`, audited): the detector
        // finds it there, so a surface that leaked it would fail the sweep.
        let revealed = try await run.fleet(["dlq", "show", run.deadLetterIDs[0], "--run-dir", run.runDir.path,
                                            "--reveal", "--reason", "masking sweep control", "--operator-name", "test"])
        let control = detector.findings(in: revealed)
        #expect(control.contains { $0.hasPrefix("ID number \(Masking.idNumber(person.idNumber))") }, "\(control) in \(revealed.prefix(1500))")
        #expect(control.contains { $0.hasPrefix("mobile \(Masking.mobile(person.mobile))") }, "\(control)")
        // The sweep saw the planted record in masked form where it is shown.
        let show = try await run.fleet(["dlq", "show", run.deadLetterIDs[0], "--run-dir", run.runDir.path])
        #expect(show.contains(Masking.idNumber(person.idNumber)), "the planted dead letter, its key masked: \(show.prefix(2000))")
        print("masking sweep: \(swept.count) surfaces, bytes \(swept.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", "))")
    }

    static func applications(_ body: String) -> Int? {
        (try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["applications"] as? Int
    }
}
