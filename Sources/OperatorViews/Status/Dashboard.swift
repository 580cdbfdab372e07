import CardDomain
import Foundation
import FleetSupport
import Kafka
import Logging
import ServiceLifecycle

/// The one-screen live summary of `fleet up`: applications per status, per-worker throughput and lag.
package final class Dashboard: Service, @unchecked Sendable {
    package struct Worker: Sendable {
        var name: String; var group: String; var topics: [String]
        package init(name: String, group: String, topics: [String]) { self.name = name; self.group = group; self.topics = topics }
    }

    private let bootstrapServers: String
    private let workers: [Worker]
    private let supervisor: Supervisor?
    private let interval: Duration
    private let hint: String
    private let logger: Logger

    package init(bootstrapServers: String, workers: [Worker], supervisor: Supervisor?, interval: Duration = .seconds(1), hint: String, logger: Logger) {
        self.bootstrapServers = bootstrapServers
        self.workers = workers
        self.supervisor = supervisor
        self.interval = interval
        self.hint = hint
        self.logger = logger
    }

    package func run() async throws {
        let probe = try LagProbe(bootstrapServers: bootstrapServers, logger: logger)
        let reader = try TopicReader(bootstrapServers: bootstrapServers, fetchMaxWait: KafkaConsumerConfiguration.tailingFetchMaxWait, logger: logger)
        var tally = StatusTally()
        var started = false
        var previous: [String: (consumed: Int64, at: ContinuousClock.Instant)] = [:]
        let isTerminal = isatty(STDOUT_FILENO) == 1
        var lastPlain = ContinuousClock.now - .seconds(60)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if !started { try await offload { try reader.start(["card.status"]) }; started = true }
                let batch = try await offload { reader.poll(timeout: .milliseconds(50)).messages }
                for message in batch { tally.add(message) }
                // Off a terminal a screen is printed every 10 s: ask the brokers for lag only then
                // (5 groups' offsets and watermarks every second cost ~19 requests a second, the
                // larger part of the dashboard's idle CPU). Rates span the 10 s instead.
                let plainDue = ContinuousClock.now - lastPlain >= .seconds(10)
                guard isTerminal || plainDue else {
                    try? await Task.sleep(for: interval)
                    continue
                }
                var rows: [String] = []
                for worker in workers {
                    let lags = try await offload { try probe.lag(group: worker.group, topics: worker.topics) }
                    let consumed = lags.reduce(Int64(0)) { $0 + max(($1.committed ?? $1.logStart) - $1.logStart, 0) }
                    let now = ContinuousClock.now
                    let rate = previous[worker.name].map { Double(consumed - $0.consumed) / max((now - $0.at).seconds, 0.001) } ?? 0
                    previous[worker.name] = (consumed, now)
                    let restarts = supervisor?.restarts.withLock { $0[worker.name] } ?? 0
                    rows.append(pad(worker.name, 12) + pad("\(consumed)", 10) + pad(String(format: "%.0f/s", rate), 10)
                                + pad("\(lags.reduce(0) { $0 + $1.lag })", 8) + (restarts > 0 ? "restarts: \(restarts)" : ""))
                }
                let deadLetters = try await offload { try probe.messageCount(topic: "card.dlq") }
                let screen = render(tally: tally, rows: rows, deadLetters: deadLetters)
                if isTerminal {
                    FileHandle.standardOutput.write(Data(("\u{1B}[H\u{1B}[2J" + screen).utf8))
                } else {
                    Terminal.say(screen)
                    lastPlain = .now
                }
            } catch {
                logger.warning("dashboard refresh failed", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    private func render(tally: StatusTally, rows: [String], deadLetters: Int64) -> String {
        var lines = ["北京市第三代社会保障卡 · minors' proxy applications · \(bootstrapServers)", ""]
        lines.append("applications by current status (\(tally.applications) total, \(tally.events) status events)")
        for status in ApplicationStatus.allCases {
            let count = tally.current[status, default: 0]
            let bar = String(repeating: "█", count: min(40, tally.applications == 0 ? 0 : Int((Double(count) / Double(tally.applications) * 40).rounded(.up))))
            lines.append("  " + pad(status.rawValue, 18) + pad("\(count)", 8) + bar)
        }
        lines.append("")
        lines.append("  " + pad("worker", 12) + pad("consumed", 10) + pad("rate", 10) + pad("lag", 8))
        lines += rows.map { "  " + $0 }
        lines.append("")
        lines.append("  dead letters: \(deadLetters)")
        lines.append("")
        lines.append(hint)
        return lines.joined(separator: "\n") + "\n"
    }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }
}

/// Latest status per application, from card.status (dedup by seq: a re-sent event counts once).
struct StatusTally {
    private var latest: [String: (seq: Int, status: ApplicationStatus)] = [:]
    private(set) var current: [ApplicationStatus: Int] = [:]
    private(set) var events = 0
    var applications: Int { latest.count }

    mutating func add(_ message: ConsumedMessage) {
        guard let event = try? JSONDecoder().decode(StatusEvent.self, from: Data(message.value ?? [])) else { return }
        events += 1
        if let known = latest[event.applicationID] {
            guard event.seq > known.seq else { return }
            current[known.status, default: 0] -= 1
        }
        latest[event.applicationID] = (event.seq, event.status)
        current[event.status, default: 0] += 1
    }
}
