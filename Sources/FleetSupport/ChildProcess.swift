import Foundation
import Synchronization

/// A child process of the fleet (a worker, the broker, a tool): started, signalled, awaited,
/// its peak memory read from `/proc`.
///
/// `@unchecked Sendable`: `Process` is used only through thread-safe calls after launch.
public final class ChildProcess: @unchecked Sendable {
    public let name: String
    private let process: Process
    public let logFile: URL?

    /// Starts `executable` with `arguments`; stdout and stderr go to `logFile` (appended) or are discarded.
    public init(name: String, executable: URL, arguments: [String], environment: [String: String]? = nil,
                workingDirectory: URL? = nil, logFile: URL? = nil) throws {
        self.name = name
        self.logFile = logFile
        process = Process()
        process.executableURL = executable
        process.arguments = arguments
        // CARD_PARENT_PID: a worker or gateway stops itself when this process is gone (ParentWatch).
        process.environment = ProcessInfo.processInfo.environment.merging(environment ?? [:]) { _, new in new }
            .merging(["CARD_PARENT_PID": "\(getpid())"]) { _, new in new }
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        if let logFile {
            if !FileManager.default.fileExists(atPath: logFile.path) {
                FileManager.default.createFile(atPath: logFile.path, contents: nil)
            }
            let handle = try FileHandle(forWritingTo: logFile)
            handle.seekToEndOfFile()
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    public var exitStatus: Int32? { process.isRunning ? nil : process.terminationStatus }

    /// Sends a signal (`SIGTERM` for a graceful stop, `SIGKILL` for a crash).
    public func signal(_ signal: Int32) { if process.isRunning { kill(process.processIdentifier, signal) } }

    /// Waits for the process to exit, up to `timeout`. Blocking: call from a thread or `waitAsync`.
    /// - Returns: the exit status, or `nil` if it is still running.
    @discardableResult
    public func wait(timeout: Duration) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { usleep(10_000) }
        return exitStatus
    }

    /// Waits without blocking the cooperative pool.
    @discardableResult
    public func waitAsync(timeout: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        return exitStatus
    }

    /// A graceful stop that cannot hang: `SIGTERM`, up to `grace` for the process to exit, then
    /// `SIGKILL` and up to 5 s more.
    /// - Returns: the exit status, or `nil` if it is somehow still running.
    @discardableResult
    public func stop(grace: Duration = .seconds(30)) async -> Int32? {
        signal(SIGTERM)
        if let status = await waitAsync(timeout: grace) { return status }
        signal(SIGKILL)
        return await waitAsync(timeout: .seconds(5))
    }

    /// Peak resident set size in bytes (`VmHWM`), while the process runs.
    public var peakRSS: Int? { ProcStatus.peakRSS(pid: pid) }

    /// CPU time used so far (user + system, `/proc/<pid>/stat`), in seconds, while the process runs.
    public var cpuSeconds: Double? { ProcStatus.cpuSeconds(pid: pid) }
}

public enum ProcStatus {
    /// `VmHWM` of a live process, in bytes.
    public static func peakRSS(pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0) }
            return kb.map { $0 * 1024 }
        }
        return nil
    }

    /// User + system CPU time of a live process (`utime` + `stime`, fields 14 and 15 of
    /// `/proc/<pid>/stat`, in clock ticks of `sysconf(_SC_CLK_TCK)`), in seconds.
    /// Threads that exited are included, children are not.
    public static func cpuSeconds(pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// ``cpuSeconds(pid:)`` of this process.
    public static var ownCPUSeconds: Double? { cpuSeconds(pid: getpid()) }
}

/// Where the package's executables were built (beside the running binary, or `.build/debug`).
public enum BuildProducts {
    public static func executable(_ name: String) -> URL {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent(),
            URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent(),
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/debug"),
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent(".build/release"),
        ]
        for directory in candidates {
            let url = directory.appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        return candidates[0].appendingPathComponent(name)
    }
}
