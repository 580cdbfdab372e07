import CardWorkers
import FleetSupport
import Foundation
import Kafka
import Logging
import Synchronization
import WorkerRuntime

/// The fleet under measurement, shared by `fleet bench`, `fleet chaos` and `fleet hostile`: an
/// embedded cluster hosted in this process with the topics of Topics/, and the four worker
/// executables as child processes that this object starts, kills and restarts.
///
/// `@unchecked Sendable`: the mutable worker table sits behind a Mutex.
final class FleetUnderTest: @unchecked Sendable {
    static let workerNames = ["intake", "identity", "routing", "production"]
    static let groups: [(worker: String, group: String, topics: [String])] = [
        ("intake", "card-intake", IntakeHandler().inputTopics),
        ("identity", "card-identity", IdentityHandler().inputTopics),
        ("routing", "card-routing", RoutingHandler().inputTopics),
        ("production", "card-production", ProductionHandler().inputTopics),
    ]

    let cluster: EmbeddedCluster
    let servers: String
    let directory: URL
    let logDirectory: URL
    let specs: [TopicSpec]
    private let extraArguments: [String: [String]]

    private struct Slot {
        /// The worker type (`intake`, ...): the executable and the consumer group.
        var worker: String
        var stateDirectory: URL
        var process: ChildProcess?
        /// Taken out of the fleet on purpose (removed gracefully, or killed with its disk lost): never restarted.
        var retired = false
        /// Killed on purpose (chaos) and not yet restarted.
        var killedOnPurpose = false
        var starts = 0
        var kills = 0
        /// Exits nobody asked for: crashes.
        var unexpectedExits: [Int32] = []
        var peakRSS = 0
    }
    private let slots = Mutex<[String: Slot]>([:])

    /// - Parameters:
    ///   - brokers: mock brokers (3 lets one go down while the others serve).
    ///   - workerArguments: extra flags per worker name, and for all under `"*"`.
    init(brokers: Int, topicsDirectory: URL, directory: URL, workerArguments: [String: [String]] = [:], logger: Logger) throws {
        cluster = try EmbeddedCluster(brokers: brokers, logger: logger)
        specs = try TopicCatalog.load(from: topicsDirectory)
        for spec in specs { try cluster.createTopic(spec) }
        servers = cluster.bootstrapServers
        self.directory = directory
        logDirectory = directory.appendingPathComponent("logs")
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        extraArguments = workerArguments
    }

    func partitions(of topic: String) -> Int32 { specs.first { $0.name == topic }?.partitions ?? 1 }

    func logFile(_ name: String) -> URL { logDirectory.appendingPathComponent("\(name).log") }

    /// Starts worker `name` (one instance per type, on `state/<name>`).
    func start(_ name: String) throws {
        try start(instance: name, worker: name, stateDirectory: directory.appendingPathComponent("state/\(name)"))
    }

    /// Starts (or restarts) instance `instance` of worker type `worker` on `stateDirectory`, its own disk.
    func start(instance: String, worker: String, stateDirectory: URL) throws {
        let arguments = ["--brokers", servers, "--state-dir", stateDirectory.path]
            + (extraArguments["*"] ?? []) + (extraArguments[worker] ?? [])
        let process = try ChildProcess(name: instance, executable: BuildProducts.executable("\(worker)-worker"),
                                       arguments: arguments, logFile: logFile(instance))
        slots.withLock { s in
            var slot = s[instance] ?? Slot(worker: worker, stateDirectory: stateDirectory)
            slot.process = process
            slot.killedOnPurpose = false
            slot.starts += 1
            s[instance] = slot
        }
    }

    func startAll() throws {
        try Self.checkExecutables()
        for name in Self.workerNames { try start(name) }
    }

    /// - Throws: `FleetRunError` naming the first worker executable not built.
    static func checkExecutables() throws {
        for name in Self.workerNames {
            let executable = BuildProducts.executable("\(name)-worker")
            guard FileManager.default.isExecutableFile(atPath: executable.path) else {
                throw FleetRunError("\(executable.lastPathComponent) not found at \(executable.path): build the package first")
            }
        }
    }

    /// SIGKILL, as a crash would; the worker is restarted by `restartDead`.
    func kill(_ name: String) {
        let process = slots.withLock { s -> ChildProcess? in
            s[name]?.killedOnPurpose = true
            s[name]?.kills += 1
            return s[name]?.process
        }
        process?.signal(SIGKILL)
        process?.wait(timeout: .seconds(5))
    }

    /// Restarts every worker that is not running; exits that were not asked for are recorded as crashes.
    /// - Returns: the names restarted.
    @discardableResult
    func restartDead() throws -> [String] {
        let dead = slots.withLock { s -> [String] in
            var names: [String] = []
            for (name, slot) in s where !slot.retired {
                guard let process = slot.process, !process.isRunning else { continue }
                if !slot.killedOnPurpose { s[name]?.unexpectedExits.append(process.exitStatus ?? -1) }
                s[name]?.process = nil
                names.append(name)
            }
            return names.sorted()
        }
        for name in dead {
            let (worker, stateDirectory) = slots.withLock { s in (s[name]!.worker, s[name]!.stateDirectory) }
            try start(instance: name, worker: worker, stateDirectory: stateDirectory)
        }
        return dead
    }

    /// Samples each worker's peak RSS (kept as the maximum over every process that ran under the name).
    func samplePeakRSS() {
        slots.withLock { s in
            for (name, slot) in s {
                if let rss = slot.process?.peakRSS { s[name]?.peakRSS = max(slot.peakRSS, rss) }
            }
        }
    }

    var peakRSS: [String: Int] { slots.withLock { s in s.mapValues(\.peakRSS) } }

    /// CPU seconds (user + system, `/proc/<pid>/stat`) each running worker has used since it started.
    /// A worker restarted between two readings starts again from zero: compare readings of one process.
    var cpuSeconds: [String: Double] {
        slots.withLock { s in s.compactMapValues { $0.process?.cpuSeconds } }
    }

    /// The pid of each running worker, to tell whether two ``cpuSeconds`` readings are of one process.
    var pids: [String: Int32] { slots.withLock { s in s.compactMapValues { $0.process?.pid } } }
    var kills: [String: Int] { slots.withLock { s in s.mapValues(\.kills) } }
    var restarts: [String: Int] { slots.withLock { s in s.mapValues { max(0, $0.starts - 1) } } }
    var unexpectedExits: [String: [Int32]] { slots.withLock { s in s.mapValues(\.unexpectedExits).filter { !$0.value.isEmpty } } }
    var running: [String: Bool] { slots.withLock { s in s.filter { !$0.value.retired }.mapValues { $0.process?.isRunning ?? false } } }

    // MARK: Several instances per worker type (`fleet chaos --instances`)

    /// Instances not retired (running, or killed and due for a restart on their disk), as (name, worker type), by name.
    var liveInstances: [(name: String, worker: String)] {
        slots.withLock { s in s.filter { !$0.value.retired }.map { ($0.key, $0.value.worker) }.sorted { $0.name < $1.name } }
    }

    /// The state directories of the live instances of `worker`.
    func stateDirectories(of worker: String) -> [URL] {
        slots.withLock { s in s.values.filter { !$0.retired && $0.worker == worker }.map(\.stateDirectory) }
    }

    /// The live instances of `worker`, by name.
    func instances(of worker: String) -> [String] { liveInstances.filter { $0.worker == worker }.map(\.name) }

    /// Starts one more instance of `worker` on a fresh, empty state directory `state/<worker>-<k>`
    /// (k one above every instance of the type so far), as a new host or pod with its own volume.
    /// - Returns: the instance's name, `<worker>-<k>`.
    @discardableResult
    func addInstance(of worker: String) throws -> String {
        let k = slots.withLock { s in s.values.filter { $0.worker == worker }.count } + 1
        let name = "\(worker)-\(k)"
        let stateDirectory = directory.appendingPathComponent("state/\(name)")
        try? FileManager.default.removeItem(at: stateDirectory)
        try start(instance: name, worker: worker, stateDirectory: stateDirectory)
        return name
    }

    /// Graceful removal: SIGTERM (the instance drains its outbox, commits and leaves the group); it is
    /// not restarted. Does not wait: ``retiredExitStatuses`` has the exit status once it is known.
    func remove(_ name: String) {
        let process = slots.withLock { s -> ChildProcess? in
            s[name]?.retired = true
            return s[name]?.process
        }
        process?.signal(SIGTERM)
    }

    /// SIGKILL, and the instance's disk is lost: its state directory is deleted and it is never restarted
    /// (``addInstance(of:)`` gives its replacement a fresh disk).
    func killAndLoseDisk(_ name: String) {
        let (process, stateDirectory) = slots.withLock { s -> (ChildProcess?, URL?) in
            s[name]?.retired = true
            s[name]?.kills += 1
            s[name]?.killedOnPurpose = true
            return (s[name]?.process, s[name]?.stateDirectory)
        }
        process?.signal(SIGKILL)
        process?.wait(timeout: .seconds(5))
        if let stateDirectory { try? FileManager.default.removeItem(at: stateDirectory) }
    }

    /// Exit statuses of retired instances removed gracefully (`nil`: still stopping), by name.
    var retiredExitStatuses: [String: Int32?] {
        slots.withLock { s in s.filter { $0.value.retired && !$0.value.killedOnPurpose }.mapValues { $0.process?.exitStatus } }
    }

    /// Kills, restarts and peak RSS summed (RSS: the maximum) over the instances of each worker type.
    var killsByWorker: [String: Int] { slots.withLock { s in Dictionary(s.values.map { ($0.worker, $0.kills) }, uniquingKeysWith: +) } }
    var restartsByWorker: [String: Int] {
        slots.withLock { s in Dictionary(s.values.map { ($0.worker, max(0, $0.starts - 1)) }, uniquingKeysWith: +) }
    }
    var peakRSSByWorker: [String: Int] { slots.withLock { s in Dictionary(s.values.map { ($0.worker, $0.peakRSS) }, uniquingKeysWith: max) } }
    /// Instances that ever ran, per worker type.
    var instancesStarted: [String: Int] { slots.withLock { s in Dictionary(s.values.map { ($0.worker, 1) }, uniquingKeysWith: +) } }

    /// Waits until every worker logged its first assignment and, when the reference topics were seeded
    /// before the start, the reference tables caught up (the loader logs that only when it had records to read). Blocking.
    func waitReady(timeout: Duration, referenceSeeded: Bool = true) throws {
        let deadline = ContinuousClock.now + timeout
        var missing: [String] = []
        repeat {
            missing = []
            for (name, worker) in liveInstances {
                let text = logText(name)
                if !text.contains("partitions assigned") { missing.append("\(name): no partitions yet") }
                if referenceSeeded, worker == "identity" || worker == "routing", !text.contains("reference tables caught up") {
                    missing.append("\(name): reference tables loading")
                }
            }
            if let dead = running.first(where: { !$0.value })?.key {
                throw FleetRunError("worker \(dead) exited while starting; see \(logFile(dead).path)")
            }
            if missing.isEmpty { return }
            usleep(100_000)
        } while ContinuousClock.now < deadline
        throw FleetRunError("workers not ready after \(timeout): \(missing.joined(separator: "; "))")
    }

    func logText(_ name: String) -> String {
        readGrowingTextFile(logFile(name))
    }

    /// SIGTERM to every worker (they drain their outboxes and commit), SIGKILL after `timeout`.
    /// - Returns: exit statuses.
    @discardableResult
    func stopAll(timeout: Duration = .seconds(30)) -> [String: Int32?] {
        samplePeakRSS()
        let (processes, retired) = slots.withLock { s in (s.compactMapValues(\.process), Set(s.filter(\.value.retired).keys)) }
        for process in processes.values { process.signal(SIGTERM) }
        var statuses: [String: Int32?] = [:]
        for (name, process) in processes {
            let status = process.wait(timeout: timeout)
            if status == nil { process.signal(SIGKILL); process.wait(timeout: .seconds(5)) }
            // Retired instances (removed or killed earlier) are awaited too, but their status is not this stop's.
            if !retired.contains(name) { statuses[name] = status }
        }
        // Retired instances keep their process, for ``retiredExitStatuses``.
        slots.withLock { s in for name in s.keys where !(s[name]?.retired ?? false) { s[name]?.process = nil } }
        return statuses
    }

    /// Total lag of each worker's group over its input topics (committed offsets, so up to the
    /// workers' 1 s commit interval behind). Blocking.
    func lag(probe: LagProbe) -> [String: Int64] {
        var result: [String: Int64] = [:]
        for entry in Self.groups {
            if let lags = try? probe.lag(group: entry.group, topics: entry.topics) {
                result[entry.worker] = lags.reduce(0) { $0 + $1.lag }
            }
        }
        return result
    }

    /// How many lines of the worker logs (every instance that ever ran) contain `needle`.
    func logLineCount(containing needle: String, and also: String? = nil) -> Int {
        slots.withLock { s in s.keys.sorted() }.reduce(0) { total, name in
            total + logText(name).split(separator: "\n").filter { $0.contains(needle) && (also.map($0.contains) ?? true) }.count
        }
    }

    /// Lines of the worker logs (every instance that ever ran) that report lost messages (offset gaps).
    func gapLines() -> [String] {
        slots.withLock { s in s.keys.sorted() }.flatMap { name in
            logText(name).split(separator: "\n").filter { $0.contains("OFFSET GAP") }.map { "\(name): \($0)" }
        }
    }
}

// MARK: - Feeding

/// Publishes records without waiting for each delivery, counting failures; `flush` waits for all.
final class Feeder: @unchecked Sendable {
    private let producer: KafkaProducer
    private final class Tally: Sendable {
        let failures = Mutex<[String]>([])
        let delivered = Mutex(0)
    }
    private let tally = Tally()

    /// - Parameter extraProperties: raw librdkafka properties, e.g. a raised `message.max.bytes`
    ///   (the Java client's 1 MiB default) to publish records a portal may legally send.
    init(servers: String, clientID: String, extraProperties: [String: String] = [:], logger: Logger) throws {
        producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(bootstrapServers: servers, clientID: clientID,
                                                                                        extraProperties: extraProperties)),
            logger: logger)
    }

    func enqueue(_ record: ProducerRecord, label: String) {
        do {
            try producer.enqueue(record) { [tally] error in
                if let error { tally.failures.withLock { $0.append("\(label): \(error)") } } else { tally.delivered.withLock { $0 += 1 } }
            }
        } catch {
            tally.failures.withLock { $0.append("\(label): \(error)") }
        }
    }

    var deliveredCount: Int { tally.delivered.withLock { $0 } }
    var failed: [String] { tally.failures.withLock { $0 } }

    /// Waits for every delivery report. Blocking.
    func flush(timeout: Duration = .seconds(60)) throws { try producer.flush(timeout: timeout) }

    /// Sends `records` and waits for all of them (for seeding). Blocking.
    func sendAll(_ records: [ProducerRecord], label: String) throws {
        for record in records { enqueue(record, label: label) }
        try flush(timeout: .seconds(120))
        let failed = failed
        if !failed.isEmpty { throw FleetRunError("\(failed.count) \(label) record(s) not delivered, first: \(failed[0])") }
    }
}

// MARK: - Output

/// Reads card.status, card.orders and card.dlq live from offset 0 (no group) on a thread of its
/// own while the run goes on, so the broker's retention can never drop an output before it is
/// counted, and keeps for every distinct `card-message-id` its content hash, application, seq,
/// status and Kafka timestamp; re-sends (the same id again) are counted apart.
final class OutputCollector: @unchecked Sendable {
    struct StatusCopy: Sendable {
        var hash: UInt64
        var application: String
        var seq: Int
        var status: String
        var timestamp: Int64
        var reasons: Int
        /// The event's `at` (contract: card.status), to tell a decision made twice from other differences.
        var at: String?
        /// The reason codes of a `rejected` status (empty for others), and its size in bytes.
        var codes: Set<String> = []
        var bytes = 0
    }

    struct OrderCopy: Sendable {
        var hash: UInt64
        var application: String
        var timestamp: Int64
    }

    struct DeadLetterCopy: Sendable {
        var sourceTopic: String
        var partition: Int32
        var offset: Int64
        var error: String
        var worker: String
    }

    struct State: Sendable {
        var statuses: [String: StatusCopy] = [:]
        var orders: [String: OrderCopy] = [:]
        var deadLetters: [String: DeadLetterCopy] = [:]
        var rawStatuses = 0
        var rawOrders = 0
        var rawDeadLetters = 0
        /// Ids seen again with other content: a real duplicate, never a re-send.
        var conflicts: [String] = []
        /// Offset gaps and other read errors: outputs lost before they were read.
        var readErrors: [String] = []
        /// Statuses per status name (distinct ids).
        var byStatus: [String: Int] = [:]
        /// Applications with a final status (see `finals`), distinct.
        var finalized: Set<String> = []
        var dlqSeen = 0
    }

    private let reader: TopicReader
    private let state = Mutex(State())
    private let stop = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    /// Statuses that end an application in this run (without the bank: in_production or rejected).
    let finals: Set<String>

    init(servers: String, finals: Set<String>, logger: Logger) throws {
        reader = try TopicReader(bootstrapServers: servers, logger: logger)
        try reader.start([CardTopics.status, CardTopics.orders, CardTopics.deadLetters])
        self.finals = finals
    }

    func start() {
        let thread = Thread { [self] in
            while !stop.withLock({ $0 }) {
                let result = reader.poll(timeout: .milliseconds(50))
                if !result.messages.isEmpty || !result.errors.isEmpty { absorb(result) }
            }
            finished.signal()
        }
        thread.name = "output-collector"
        thread.start()
    }

    func stopReading() {
        stop.withLock { $0 = true }
        finished.wait()
    }

    var snapshot: State { state.withLock { $0 } }

    func counts() -> (statuses: Int, orders: Int, finalized: Int, routed: Int, deadLetters: Int) {
        state.withLock { s in (s.statuses.count, s.orders.count, s.finalized.count, s.byStatus["routed", default: 0], s.deadLetters.count) }
    }

    private func absorb(_ result: PollResult) {
        var parsed: [(topic: String, id: String, status: StatusCopy?, order: OrderCopy?, dlq: DeadLetterCopy?, hash: UInt64)] = []
        for message in result.messages {
            let value = message.value ?? []
            let hash = Self.fnv1a(value)
            let key = String(decoding: message.key ?? [], as: UTF8.self)
            let header = message.header(messageIDHeader)?.stringValue
            let timestamp = message.timestampMilliseconds ?? 0
            switch message.topic {
            case CardTopics.status:
                let status = Self.stringField("status", in: value) ?? "?"
                let seq = header.flatMap { $0.split(separator: "/").last.flatMap { Int($0) } } ?? Self.intField("seq", in: value) ?? -1
                var copy = StatusCopy(hash: hash, application: key, seq: seq, status: status, timestamp: timestamp,
                                      reasons: Self.count(of: "\"code\":", in: value), at: Self.stringField("at", in: value))
                if status == "rejected" { copy.codes = Self.reasonCodes(in: value); copy.bytes = value.count }
                parsed.append((message.topic, header ?? "\(key)/status/\(seq)", copy, nil, nil, hash))
            case CardTopics.orders:
                let application = header.map { $0.hasSuffix("/order") ? String($0.dropLast("/order".count)) : $0 }
                    ?? Self.stringField("application_id", in: value) ?? "?"
                parsed.append((message.topic, header ?? "\(application)/order", nil,
                               OrderCopy(hash: hash, application: application, timestamp: timestamp), nil, hash))
            default:
                var copy = DeadLetterCopy(sourceTopic: "?", partition: -1, offset: -1, error: "", worker: "")
                if let object = try? JSONSerialization.jsonObject(with: Data(value)) as? [String: Any] {
                    copy.sourceTopic = object["source_topic"] as? String ?? "?"
                    copy.partition = Int32((object["partition"] as? NSNumber)?.intValue ?? -1)
                    copy.offset = Int64((object["offset"] as? NSNumber)?.int64Value ?? -1)
                    copy.error = object["error"] as? String ?? ""
                    copy.worker = object["worker"] as? String ?? ""
                }
                parsed.append((message.topic, header ?? "dlq/\(copy.sourceTopic)/\(copy.partition)/\(copy.offset)", nil, nil, copy, hash))
            }
        }
        state.withLock { s in
            for error in result.errors { s.readErrors.append("\(error)") }
            for item in parsed {
                switch item.topic {
                case CardTopics.status:
                    s.rawStatuses += 1
                    if let old = s.statuses[item.id] {
                        if old.hash != item.hash { s.conflicts.append("card.status \(item.id) (\(Self.difference(old, item.status)))") }
                    } else if let copy = item.status {
                        s.statuses[item.id] = copy
                        s.byStatus[copy.status, default: 0] += 1
                        if finals.contains(copy.status) { s.finalized.insert(copy.application) }
                    }
                case CardTopics.orders:
                    s.rawOrders += 1
                    if let old = s.orders[item.id] {
                        if old.hash != item.hash { s.conflicts.append("card.orders \(item.id)") }
                    } else if let copy = item.order {
                        s.orders[item.id] = copy
                    }
                default:
                    s.rawDeadLetters += 1
                    if s.deadLetters[item.id] == nil, let copy = item.dlq { s.deadLetters[item.id] = copy }
                }
            }
        }
    }

    // MARK: Byte scanning of our own compact JSON (the workers' encoder output)

    static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }

    /// The string value of the first `"name":"…"` (an unescaped quote cannot occur inside a JSON string).
    /// The distinct `"code":"…"` values in a status.
    static func reasonCodes(in bytes: [UInt8]) -> Set<String> {
        let text = String(decoding: bytes, as: UTF8.self)
        var codes = Set<String>()
        for part in text.components(separatedBy: "\"code\":\"").dropFirst() {
            codes.insert(String(part.prefix { $0 != "\"" }))
        }
        return codes
    }

    /// What differs between two copies of one status id, for the verdict: the status, else the
    /// event time (the same decision made twice, e.g. by a zombie and the next owner), else other fields.
    static func difference(_ old: StatusCopy, _ new: StatusCopy?) -> String {
        guard let new else { return "unreadable copy" }
        if old.status != new.status { return "status \(old.status) vs \(new.status)" }
        if old.reasons != new.reasons { return "\(old.status), \(old.reasons) vs \(new.reasons) reasons" }
        if old.at != new.at { return "\(old.status), at \(old.at ?? "-") vs \(new.at ?? "-")" }
        return "\(old.status), same at, other fields differ"
    }

    static func stringField(_ name: String, in bytes: [UInt8]) -> String? {
        let needle = Array("\"\(name)\":\"".utf8)
        guard let start = find(needle, in: bytes) else { return nil }
        var end = start + needle.count
        while end < bytes.count && bytes[end] != UInt8(ascii: "\"") { end += 1 }
        return String(decoding: bytes[(start + needle.count)..<end], as: UTF8.self)
    }

    static func intField(_ name: String, in bytes: [UInt8]) -> Int? {
        let needle = Array("\"\(name)\":".utf8)
        guard let start = find(needle, in: bytes) else { return nil }
        var end = start + needle.count
        while end < bytes.count && (0x30...0x39).contains(bytes[end]) { end += 1 }
        return Int(String(decoding: bytes[(start + needle.count)..<end], as: UTF8.self))
    }

    static func count(of text: String, in bytes: [UInt8]) -> Int {
        let needle = Array(text.utf8)
        var n = 0
        var from = 0
        while let at = find(needle, in: bytes, from: from) { n += 1; from = at + needle.count }
        return n
    }

    static func find(_ needle: [UInt8], in bytes: [UInt8], from: Int = 0) -> Int? {
        guard !needle.isEmpty, bytes.count >= needle.count, from <= bytes.count - needle.count else { return nil }
        let first = needle[0]
        var i = from
        while i <= bytes.count - needle.count {
            if bytes[i] == first {
                var j = 1
                while j < needle.count && bytes[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}

// MARK: - Verification

/// What `fleet chaos` and `fleet bench` check at the end, from what the collector read.
struct RunVerification {
    var lines: [String] = []
    var violations: [String] = []
    var statusResends = 0
    var orderResends = 0

    /// - Parameters:
    ///   - expected: application id → whether it should reach the card order (in_production) or be rejected.
    static func verify(_ s: OutputCollector.State, expected: [String: Bool], finals: Set<String>) -> RunVerification {
        var v = RunVerification()
        var byApplication: [String: [OutputCollector.StatusCopy]] = [:]
        for copy in s.statuses.values { byApplication[copy.application, default: []].append(copy) }
        var ordersByApplication: [String: Int] = [:]
        for copy in s.orders.values { ordersByApplication[copy.application, default: 0] += 1 }

        var lost: [String] = [], noFinal: [String] = [], manyFinals: [String] = [], seqGaps: [String] = []
        var repeatedStatus: [String] = [], wrongOutcome: [String] = [], finalNotLast: [String] = []
        var missingOrder: [String] = [], duplicateOrder: [String] = [], strayOrder: [String] = []
        var produced = 0, rejected = 0
        for (application, shouldProduce) in expected {
            guard let copies = byApplication[application], !copies.isEmpty else { lost.append(application); continue }
            let sorted = copies.sorted { $0.seq < $1.seq }
            if sorted.map(\.seq) != Array(1...sorted.count) { seqGaps.append("\(application) seqs \(sorted.map(\.seq))") }
            if Set(sorted.map(\.status)).count != sorted.count { repeatedStatus.append("\(application) \(sorted.map(\.status))") }
            let finalCopies = sorted.filter { finals.contains($0.status) }
            if finalCopies.isEmpty { noFinal.append("\(application) \(sorted.map(\.status))") }
            if finalCopies.count > 1 { manyFinals.append("\(application) \(sorted.map(\.status))") }
            if let last = finalCopies.last {
                if last.seq != sorted.last!.seq { finalNotLast.append("\(application) \(sorted.map(\.status))") }
                if last.status == "rejected" {
                    rejected += 1
                    if last.reasons == 0 { wrongOutcome.append("\(application) rejected without reasons") }
                } else {
                    produced += 1
                }
                if (last.status == "in_production") != shouldProduce {
                    wrongOutcome.append("\(application) ended \(last.status), expected \(shouldProduce ? "in_production" : "rejected")")
                }
            }
            let orders = ordersByApplication[application, default: 0]
            let inProduction = sorted.contains { $0.status == "in_production" }
            if inProduction && orders == 0 { missingOrder.append(application) }
            if orders > 1 { duplicateOrder.append("\(application) (\(orders) distinct order ids)") }
            if !inProduction && orders > 0 { strayOrder.append(application) }
        }
        let unknown = byApplication.keys.filter { expected[$0] == nil }
        let unknownOrders = ordersByApplication.keys.filter { expected[$0] == nil }

        v.statusResends = s.rawStatuses - s.statuses.count
        v.orderResends = s.rawOrders - s.orders.count
        let finalNames = finals.sorted().joined(separator: " or ")
        v.lines.append("verified: \(expected.count) application(s): \(expected.count - lost.count - noFinal.count - manyFinals.count) with exactly one final status (\(finalNames)): \(produced) in_production, \(rejected) rejected; \(lost.count) lost")
        v.lines.append("statuses: \(s.statuses.count) distinct, \(s.rawStatuses) raw (\(v.statusResends) re-send(s) of the same card-message-id, identical content), \(repeatedStatus.count) duplicated, \(seqGaps.count) seq gap(s), \(s.conflicts.filter { $0.hasPrefix("card.status") }.count) conflicting")
        v.lines.append("orders: \(s.orders.count) distinct, \(s.rawOrders) raw (\(v.orderResends) re-send(s)), \(duplicateOrder.count) duplicated, \(missingOrder.count) missing, \(strayOrder.count) without in_production, \(s.conflicts.filter { $0.hasPrefix("card.orders") }.count) conflicting")
        v.lines.append("dead letters: \(s.deadLetters.count) distinct, \(s.rawDeadLetters) raw")

        func check(_ list: [String], _ what: String) {
            guard !list.isEmpty else { return }
            v.violations.append("\(list.count) \(what), e.g. \(list.sorted().prefix(3).joined(separator: "; "))")
        }
        check(lost, "application(s) LOST (no status at all)")
        check(noFinal, "application(s) without a final status")
        check(manyFinals, "application(s) with more than one final status")
        check(finalNotLast, "application(s) with statuses after the final one")
        check(seqGaps, "application(s) whose seq is not contiguous from 1")
        check(repeatedStatus, "application(s) with a status emitted twice under different ids")
        check(wrongOutcome, "application(s) with an unexpected outcome")
        check(missingOrder, "in_production application(s) without a card order")
        check(duplicateOrder, "application(s) with more than one card order")
        check(strayOrder, "card order(s) for applications not in production")
        check(unknown, "status stream(s) for applications never submitted")
        check(unknownOrders, "card order(s) for applications never submitted")
        check(s.conflicts, "message id(s) seen with different content")
        check(s.readErrors, "read error(s) on the output topics (messages lost before they were read)")
        return v
    }
}

// MARK: - Small helpers

enum RunFormat {
    static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
        return sorted[min(max(rank, 0), sorted.count - 1)]
    }

    static func mib(_ bytes: Int?) -> String { bytes.map { String(format: "%.1f", Double($0) / 1_048_576) } ?? "-" }
    static func ms(_ value: Double?) -> String { value.map { String(format: "%.0f", $0) } ?? "-" }
    static func seconds(_ value: Double) -> String { String(format: "%.1f", value) }
    static func rate(_ value: Double?) -> String { RuntimeBench.Format.rate(value) }
}
