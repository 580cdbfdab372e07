import CardDomain
import Foundation
import FleetSupport
import JSONCodec
import Kafka
import Logging
import CoreMetrics
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What the ops page shows, gathered every `interval` from the cluster (lag, card.status, card.dlq)
/// and from the workers' `/metrics` when their addresses are known.
///
/// Also the page's own `/metrics` (``metricsRegistry``): `card_lag_time_to_loss_seconds{group,topic,partition}`,
/// a swift-metrics gauge per partition with something unread: seconds until retention deletes the
/// group's oldest unread message (``TimeToLossEstimator``); 0 when already lost, +Inf when no loss
/// is foreseen; absent while not yet measured. deploy/alerts.yml alerts under one hour.
package final class OpsCollector: Service, @unchecked Sendable {
    /// A dead letter as the page may show it: key and cause masked, never the payload.
    struct DeadLetterRow: Sendable, Codable, Hashable {
        /// `card.dlq/<partition>/<offset>`: what `fleet dlq show` and `fleet dlq replay` take.
        var id: String
        var at: String
        var worker: String
        var sourceTopic: String
        var partition: Int32
        var offset: Int64
        var key: String?
        var cause: String
    }

    /// A replay or a reveal of a dead letter, as the page shows it.
    struct AuditRow: Sendable, Codable, Hashable {
        var at: String
        var action: String
        var deadLetter: String
        var sourceTopic: String
        var operatorName: String
        var reason: String
        var patch: [String]?
        enum CodingKeys: String, CodingKey {
            case at, action, reason, patch
            case deadLetter = "dead_letter"
            case sourceTopic = "source_topic"
            case operatorName = "operator"
        }
    }

    /// One point of the charts.
    struct Point: Sendable, Codable {
        var at: Date
        var lag: [String: Int64]
        /// Messages per second consumed since the previous point, per group.
        var rate: [String: Double]
        /// Seconds until the group's first loss to retention (its soonest partition); absent: none foreseen or unknown.
        var timeToLoss: [String: Double] = [:]
        enum CodingKeys: String, CodingKey { case at, lag, rate, timeToLoss = "time_to_loss" }
    }

    /// A worker's gauges scraped from its `/metrics`.
    struct WorkerGauges: Sendable, Codable {
        var worker: String
        var url: String
        var reachable: Bool
        /// `metric{labels}` → value, for the `card_stage_*` and `card_worker_*` families.
        var values: [String: Double]
    }

    struct State: Sendable {
        var lag: LagReport?
        var history: [Point] = []
        var statusCounts: [String: Int] = [:]
        var applications = 0
        var deadLetters: [DeadLetterRow] = []
        var deadLetterTotal = 0
        /// Dead letters seen since the page started, by cause with numbers and masked ids folded (`DeadLetterCasework.causeClass`).
        var deadLetterCauses: [String: Int] = [:]
        /// The newest replays and reveals from card.dlq-audit, newest first (reasons masked).
        var audit: [AuditRow] = []
        var workers: [WorkerGauges] = []
        var error: String?
    }

    private let bootstrapServers: String
    private let groups: [ConsumerGroupSpec]
    private let workerMetrics: [(name: String, url: URL)]
    private let interval: Duration
    private let historyLength: Duration
    private let rules: LagRules
    private let logger: Logger
    private let state = Mutex(State())
    /// What the page's `/metrics` serves.
    let metricsRegistry = PrometheusCollectorRegistry()
    private let gauges = Mutex<[LagEvaluator.Key: CoreMetrics.Gauge]>([:])

    package init(bootstrapServers: String, groups: [ConsumerGroupSpec], workerMetrics: [(name: String, url: URL)],
         interval: Duration = .seconds(2), historyLength: Duration = .seconds(600), rules: LagRules = .defaults, logger: Logger) {
        self.bootstrapServers = bootstrapServers
        self.groups = groups
        self.workerMetrics = workerMetrics
        self.interval = interval
        self.historyLength = historyLength
        self.rules = rules
        self.logger = logger
    }

    var snapshot: State { state.withLock { $0 } }

    package func run() async throws {
        var monitor: LagMonitor?
        var statusReader: TopicReader?
        var dlqReader: TopicReader?
        var auditReader: TopicReader?
        var tally = StatusTally()
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if monitor == nil {
                    let servers = bootstrapServers, groups = groups, rules = rules, logger = logger
                    monitor = try await offload { try LagMonitor(bootstrapServers: servers, groups: groups, rules: rules, logger: logger) }
                }
                if statusReader == nil {
                    let servers = bootstrapServers
                    let (status, dlq) = try await offload { () -> (TopicReader, TopicReader) in
                        let status = try TopicReader(bootstrapServers: servers, fetchMaxWait: KafkaConsumerConfiguration.tailingFetchMaxWait)
                        try status.start(["card.status"])
                        let dlq = try TopicReader(bootstrapServers: servers, fetchMaxWait: KafkaConsumerConfiguration.tailingFetchMaxWait)
                        try dlq.start(["card.dlq"])
                        return (status, dlq)
                    }
                    statusReader = status
                    dlqReader = dlq
                }
                if auditReader == nil {
                    // Older clusters may lack card.dlq-audit (`fleet topics apply` creates it): the rest of the page still works.
                    let servers = bootstrapServers
                    auditReader = try? await offload { () -> TopicReader in
                        let reader = try TopicReader(bootstrapServers: servers, fetchMaxWait: KafkaConsumerConfiguration.tailingFetchMaxWait)
                        try reader.start([DeadLetterCasework.auditTopic])
                        return reader
                    }
                }
                let lagMonitor = monitor!
                let report = try await offload { try lagMonitor.sample() }
                exportTimeToLoss(report)
                let statusReaderNow = statusReader!, dlqReaderNow = dlqReader!
                let statusMessages = try await offload { statusReaderNow.poll(timeout: .milliseconds(50)).messages }
                for message in statusMessages { tally.add(message) }
                let letters = try await offload { dlqReaderNow.poll(timeout: .milliseconds(20)).messages }.compactMap(Self.row)
                let auditReaderNow = auditReader
                let audit = try await offload { auditReaderNow?.poll(timeout: .milliseconds(20)).messages ?? [] }.compactMap(Self.auditRow)
                let workers = await scrapeWorkers()
                let counts = Dictionary(uniqueKeysWithValues: tally.current.map { ($0.key.rawValue, $0.value) })
                let applications = tally.applications
                state.withLock { s in
                    s.error = nil
                    var point = OpsCollector.Point(at: report.at, lag: [:], rate: [:])
                    let previous = s.lag
                    for group in report.groups {
                        point.lag[group.group] = group.lag
                        if let seconds = group.timeToLoss?.gaugeValue, seconds.isFinite { point.timeToLoss[group.group] = seconds }
                        if let previous, let before = previous.groups.first(where: { $0.group == group.group }) {
                            let seconds = max(report.at.timeIntervalSince(previous.at), 0.001)
                            point.rate[group.group] = max(0, Double(group.consumed - before.consumed) / seconds)
                        }
                    }
                    s.lag = report
                    s.history.append(point)
                    let horizon = report.at.addingTimeInterval(-historyLength.timeInterval)
                    s.history.removeAll { $0.at < horizon }
                    s.statusCounts = counts
                    s.applications = applications
                    s.deadLetters = Array((letters.reversed() + s.deadLetters).prefix(50))
                    s.deadLetterTotal += letters.count
                    for letter in letters { s.deadLetterCauses[DeadLetterCasework.causeClass(letter.cause), default: 0] += 1 }
                    s.audit = Array((audit.reversed() + s.audit).prefix(20))
                    s.workers = workers
                }
            } catch {
                logger.warning("ops refresh failed", metadata: ["error": "\(error)"])
                state.withLock { $0.error = "\(error)" }
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Sets `card_lag_time_to_loss_seconds` per partition of `report`; drops the series of partitions
    /// gone or not measured, so an alert never fires on a stale value.
    func exportTimeToLoss(_ report: LagReport) {
        let factory = PrometheusMetricsFactory(registry: metricsRegistry)
        gauges.withLock { gauges in
            var seen = Set<LagEvaluator.Key>()
            for group in report.groups {
                for p in group.partitions {
                    let key = LagEvaluator.Key(group: group.group, topic: p.topic, partition: p.partition)
                    guard let value = p.timeToLoss?.gaugeValue else { continue }
                    seen.insert(key)
                    let gauge = gauges[key] ?? CoreMetrics.Gauge(label: "card_lag_time_to_loss_seconds",
                                                     dimensions: [("group", key.group), ("topic", key.topic), ("partition", "\(key.partition)")],
                                                     factory: factory)
                    gauges[key] = gauge
                    gauge.record(value)
                }
            }
            for (key, gauge) in gauges where !seen.contains(key) {
                gauge.destroy()
                gauges[key] = nil
            }
        }
    }

    /// Decodes a card.dlq-audit record into what may be shown: the reason masked again (it is free text).
    static func auditRow(_ message: ConsumedMessage) -> AuditRow? {
        guard let audit = try? CardJSON.decode(DeadLetterAudit.self, from: message.value ?? []) else { return nil }
        return AuditRow(at: audit.at.description, action: audit.action.rawValue, deadLetter: audit.deadLetter, sourceTopic: audit.sourceTopic,
                        operatorName: audit.operatorName, reason: Masking.redact(audit.reason), patch: audit.patch)
    }

    /// Decodes a card.dlq record into what may be shown: the key masked (it may be an ID number), the cause masked again.
    static func row(_ message: ConsumedMessage) -> DeadLetterRow? {
        guard let letter = try? JSONDecoder().decode(DeadLetter.self, from: Data(message.value ?? [])) else { return nil }
        return DeadLetterRow(id: DeadLetterAudit.id(partition: message.partition, offset: message.offset), at: letter.at.description, worker: letter.worker, sourceTopic: letter.sourceTopic,
                             partition: letter.partition, offset: letter.offset, key: letter.key.map(Masking.redact),
                             cause: Masking.redact(letter.error))
    }

    private func scrapeWorkers() async -> [WorkerGauges] {
        var out: [WorkerGauges] = []
        for (name, url) in workerMetrics {
            var request = URLRequest(url: url)
            request.timeoutInterval = 1
            guard let (data, _) = try? await URLSession.shared.data(for: request) else {
                out.append(WorkerGauges(worker: name, url: url.absoluteString, reachable: false, values: [:]))
                continue
            }
            out.append(WorkerGauges(worker: name, url: url.absoluteString, reachable: true,
                                    values: PrometheusText.values(String(decoding: data, as: UTF8.self),
                                                                  prefixes: ["card_stage_", "card_worker_stuck", "card_worker_parked",
                                                                             "card_worker_oldest", "card_worker_consumed", "card_worker_dead"])))
        }
        return out
    }
}

/// Just enough of the Prometheus text format to read gauges and counters back.
enum PrometheusText {
    /// `name{labels}` → value for samples whose name starts with one of `prefixes`.
    static func values(_ text: String, prefixes: [String]) -> [String: Double] {
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard prefixes.contains(where: { line.hasPrefix($0) }), let space = line.lastIndex(of: " "),
                  let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        return values
    }

    /// The value of `name` whose labels include every pair of `labels`.
    static func value(_ values: [String: Double], _ name: String, _ labels: [String: String]) -> Double? {
        values.first { key, _ in
            guard key == name || key.hasPrefix(name + "{") else { return false }
            return labels.allSatisfy { key.contains("\($0.key)=\"\($0.value)\"") }
        }?.value
    }
}
