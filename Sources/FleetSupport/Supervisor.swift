import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// A child process the fleet runs: a worker (restarted when it dies) or a one-shot demo step.
public struct ChildSpec: Sendable {
    public var name: String
    public var executable: URL
    public var arguments: [String]
    /// Restart when it exits, with backoff (workers); one-shot steps run once.
    public var restart: Bool = true
    /// Start only after this one-shot step has exited (seed before submissions).
    public var after: String?
    /// Variables set for the child on top of the fleet's own environment (secrets stay out of `ps`).
    public var environment: [String: String]? = nil

    public init(name: String, executable: URL, arguments: [String], restart: Bool = true, after: String? = nil,
                environment: [String: String]? = nil) {
        self.name = name
        self.executable = executable
        self.arguments = arguments
        self.restart = restart
        self.after = after
        self.environment = environment
    }
}

/// Starts children, restarts a dying worker with exponential backoff (1 s doubling to 30 s,
/// reset after a minute of good health), and on graceful shutdown stops them all with SIGTERM.
///
/// A worker that exits with `EX_USAGE` (64: its arguments or `CARD_*` environment were refused,
/// swift-argument-parser's validation exit) is not restarted: the same configuration fails the same
/// way, and a fleet restarting it every second looked alive while doing nothing. The supervisor
/// then stops every child and `run()` throws a ``FleetRunError`` quoting the worker's error line.
public final class Supervisor: Service, @unchecked Sendable {
    private let specs: [ChildSpec]
    private let logDirectory: URL
    private let logger: Logger
    /// Restarts per child, shown on the dashboard.
    public let restarts = Mutex<[String: Int]>([:])

    public init(specs: [ChildSpec], logDirectory: URL, logger: Logger) {
        self.specs = specs
        self.logDirectory = logDirectory
        self.logger = logger
    }

    private struct Slot {
        var spec: ChildSpec
        var process: ChildProcess?
        var startedAt: ContinuousClock.Instant?
        var nextStart: ContinuousClock.Instant? = .now
        var backoff: Duration = .seconds(1)
        var finished = false
    }

    /// `EX_USAGE` from sysexits.h: the command line or configuration was refused.
    static let usageExitStatus: Int32 = 64

    public func run() async throws {
        try FileManager.default.createDirectory(at: logDirectory, withIntermediateDirectories: true)
        var slots = specs.map { Slot(spec: $0) }
        var refused: FleetRunError?
        supervising: while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let finishedNames = Set(slots.filter(\.finished).map(\.spec.name))
            for i in slots.indices {
                var slot = slots[i]
                if let process = slot.process, !process.isRunning {
                    let status = process.exitStatus ?? -1
                    slot.process = nil
                    if slot.spec.restart, status == Self.usageExitStatus {
                        refused = Self.refusal(of: slot.spec.name, log: logDirectory.appendingPathComponent("\(slot.spec.name).log"))
                        logger.critical("child refused its configuration; not restarting, stopping the fleet", metadata: [
                            "child": "\(slot.spec.name)", "status": "\(status)"])
                        slots[i] = slot
                        break supervising
                    }
                    if slot.spec.restart {
                        if let started = slot.startedAt, ContinuousClock.now - started > .seconds(60) { slot.backoff = .seconds(1) }
                        slot.nextStart = .now + slot.backoff
                        logger.error("child exited; restarting", metadata: ["child": "\(slot.spec.name)", "status": "\(status)",
                                                                             "restart.in_seconds": "\(slot.backoff.components.seconds)"])
                        slot.backoff = min(slot.backoff * 2, .seconds(30))
                        restarts.withLock { $0[slot.spec.name, default: 0] += 1 }
                    } else {
                        slot.finished = true
                        logger.info("step finished", metadata: ["child": "\(slot.spec.name)", "status": "\(status)"])
                    }
                }
                if slot.process == nil, !slot.finished, let due = slot.nextStart, due <= .now,
                   slot.spec.after.map(finishedNames.contains) ?? true {
                    do {
                        slot.process = try ChildProcess(name: slot.spec.name, executable: slot.spec.executable, arguments: slot.spec.arguments,
                                                        environment: slot.spec.environment,
                                                        logFile: logDirectory.appendingPathComponent("\(slot.spec.name).log"))
                        slot.startedAt = .now
                        slot.nextStart = nil
                    } catch {
                        logger.error("cannot start child", metadata: ["child": "\(slot.spec.name)", "error": "\(error)"])
                        slot.nextStart = .now + slot.backoff
                        slot.backoff = min(slot.backoff * 2, .seconds(30))
                    }
                }
                slots[i] = slot
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        // Graceful: ask everyone to finish their batch, drain and commit; force after 30 s.
        let running = slots.compactMap(\.process).filter(\.isRunning)
        running.forEach { $0.signal(SIGTERM) }
        for process in running where await process.waitAsync(timeout: .seconds(30)) == nil {
            logger.warning("child did not stop in time; killing", metadata: ["child": "\(process.name)"])
            process.signal(SIGKILL)
        }
        if let refused { throw refused }
    }

    /// The error for a child that exited with `EX_USAGE`: its last `Error:` line (what
    /// swift-argument-parser printed), and where its log is.
    static func refusal(of name: String, log: URL) -> FleetRunError {
        let line = readGrowingTextFile(log).split(separator: "\n").last { $0.contains("Error:") }
            .map { String($0.trimmingCharacters(in: .whitespaces).prefix(400)) }
        return FleetRunError("\(name) refused its configuration (exit 64, EX_USAGE), so it is not restarted and the fleet stops: "
            + "\(line ?? "no error line in its log"). Its log: \(log.path)")
    }
}
