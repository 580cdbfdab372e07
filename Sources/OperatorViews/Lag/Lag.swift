import ArgumentParser
import CardDomain
import Foundation
import FleetSupport
import JSONCodec
import Logging

/// `fleet lag`: per consumer group and partition, offsets, lag in messages and seconds, and a Burrow-like status.
package struct LagCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "lag",
        abstract: "Consumer lag per group and partition: messages, seconds (age of the oldest unconsumed message), and a status.",
        discussion: """
            Samples every --interval over --window, then prints. Statuses (Burrow's rules): OK; WARN lag grew at every look \
            while offsets moved; STALL committed offset not moving while messages wait; STOP no commit moved past a message \
            waiting --stop-after seconds; ERROR committed offset behind the log start (lost to retention) or moving backwards. \
            Lag in seconds is exact: the timestamp of the message at the committed offset, read by a group-less consumer. \
            Where these rules differ from Burrow's on purpose: (1) STOP uses the fixed --stop-after, not the window's span, \
            and counts only time with lag above zero: a partition idle at zero lag for an hour whose next message takes 40 s \
            to commit has waited 40 s (Burrow counts from the last commit); (2) lag counts only records a consumer can \
            receive: when the offsets between the committed one and the log end hold only transaction markers (KIP-98 \
            control records), the lag is 0, not STALL (Burrow counts log end minus committed); (3) behind the log start \
            or a rewind is ERROR, a status Burrow does not have. \
            TIME TO LOSS: when retention deletes the oldest unread message (the one at the committed offset) if the \
            group does not speed up: LOST (already behind the log start), a duration (45s, 42m, 3h5m, 2d4h), ∞ (caught up, \
            or consuming at least as fast as the log start advances and with the oldest unread message not ageing), \
            - (not measured yet). \
            Estimated from the log start's advance against the commits (size-based retention: retention.bytes, on the embedded \
            broker its ~5 MiB per partition) and from the oldest unread message's age against retention.ms; see docs/deploying.md. \
            A partition due within --loss-warning seconds is WARN (unless already worse). \
            Exit status: 0 when every group is OK or WARN, 2 otherwise (without --watch).
            """)

    @Option(help: "Bootstrap servers; default: the embedded broker's <run-dir>/bootstrap.") var brokers: String?
    @Option(help: "Run folder of the embedded broker.") var runDir = "run"
    @Option(name: .customLong("group"), help: "A group to watch as group=topic,topic (repeatable). Default: the four workers' groups.")
    var groups: [String] = []
    @Option(help: "Seconds between looks.") var interval = 1.0
    @Option(help: "Seconds of looks the trends are judged over.") var window = 5.0
    @Option(help: "Seconds a waiting message may age with no commit before the group is STOP rather than STALL.") var stopAfter = 120.0
    @Option(help: "Seconds: a partition whose oldest unread message retention deletes sooner than this is WARN.") var lossWarning = 3600.0
    @Flag(help: "Refresh in place until Ctrl-C.") var watch = false
    @Flag(help: "Print JSON (one report; with --watch, one line per refresh).") var json = false
    @Flag(help: "Show every partition, not only those with lag or a status other than OK.") var all = false

    package init() {}

    package func run() async throws {
        let servers = try brokers ?? BrokerList.embedded(runDir: runDir)
        let specs = try ConsumerGroupSpec.parseOption(groups)
        let rules = LagRules(window: .milliseconds(Int64(window * 1000)), stopAfter: .milliseconds(Int64(stopAfter * 1000)),
                             minimumSamples: max(2, Int((window / interval).rounded(.down))),
                             timeToLossWarning: .milliseconds(Int64(lossWarning * 1000)))
        let monitor = try LagMonitor(bootstrapServers: servers, groups: specs, rules: rules, logger: Logger(label: "card.lag"))
        let interactive = watch && isatty(STDOUT_FILENO) == 1
        let started = ContinuousClock.now
        while true {
            let report = try await offload { try monitor.sample() }
            let judged = ContinuousClock.now - started >= .milliseconds(Int64(window * 1000))
            if watch || judged {
                if json {
                    let encoder = CardJSON.encoder()
                    encoder.outputFormatting = watch ? [.sortedKeys] : [.sortedKeys, .prettyPrinted]
                    Terminal.say(String(decoding: try encoder.encode(report), as: UTF8.self))
                } else {
                    let text = LagTable.render(report, all: all)
                    if interactive { FileHandle.standardOutput.write(Data(("\u{1B}[H\u{1B}[2J" + text).utf8)) } else { Terminal.say(text) }
                }
                if !watch {
                    if report.groups.contains(where: { $0.status > .warn }) { throw ExitCode(2) }
                    return
                }
            }
            try await Task.sleep(for: .milliseconds(Int64(interval * 1000)))
        }
    }
}

/// The text form of a lag report.
enum LagTable {
    static func render(_ report: LagReport, all: Bool) -> String {
        var lines: [String] = []
        lines.append(row(["GROUP", "STATUS", "LAG", "LAG(s)", "TIME TO LOSS", "REASON"], [18, 7, 10, 9, 13, 0]))
        for group in report.groups {
            lines.append(row([group.group, group.status.rawValue, "\(group.lag)", seconds(group.maxLagSeconds), group.timeToLoss?.text ?? "-",
                              group.reason ?? ""], [18, 7, 10, 9, 13, 0]))
        }
        lines.append("")
        lines.append(row(["GROUP", "TOPIC", "PART", "COMMITTED", "LOG-START", "LOG-END", "LAG", "LAG(s)", "TIME TO LOSS", "STATUS", "REASON"],
                         [18, 28, 5, 10, 10, 10, 8, 9, 13, 7, 0]))
        for group in report.groups {
            for p in group.partitions where all || p.lag > 0 || p.status != .ok {
                lines.append(row([group.group, p.topic, "\(p.partition)", p.committed.map(String.init) ?? "-", "\(p.logStart)", "\(p.logEnd)",
                                  "\(p.lag)", seconds(p.lagSeconds), p.timeToLoss?.text ?? "-", p.status.rawValue, p.reason ?? ""],
                                 [18, 28, 5, 10, 10, 10, 8, 9, 13, 7, 0]))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    private static func seconds(_ value: Double?) -> String { value.map { String(format: "%.1f", $0) } ?? "-" }

    private static func row(_ cells: [String], _ widths: [Int]) -> String {
        zip(cells, widths).map { cell, width in
            width == 0 || cell.count >= width ? cell + " " : cell + String(repeating: " ", count: width - cell.count)
        }.joined().trimmingCharacters(in: .whitespaces)
    }
}
