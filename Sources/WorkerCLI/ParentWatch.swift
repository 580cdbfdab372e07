import Foundation
import Logging
import WorkerRuntime

/// Stops a child process whose supervisor is gone.
///
/// `fleet up` (and every test harness that starts workers through `ChildProcess`) passes its own
/// pid as `CARD_PARENT_PID`. When the parent dies without stopping its children — SIGKILL, a
/// closed terminal's SIGHUP before it handled it — the child is re-parented and its parent pid
/// changes; it then sends itself SIGTERM and stops gracefully, instead of retrying for ever
/// against an embedded broker that died with its parent and holding its ports.
public enum ParentWatch {
    /// The variable a supervisor sets to its pid (decimal).
    public static let variable = "CARD_PARENT_PID"

    /// Starts the watch when `CARD_PARENT_PID` is set: checks `getppid()` every `interval`.
    public static func start(environment: [String: String] = ProcessInfo.processInfo.environment,
                             interval: Duration = .seconds(1), logger: Logger) {
        guard let text = environment[variable], let parent = pid_t(text), parent > 1 else { return }
        let thread = Thread {
            while true {
                Thread.sleep(forTimeInterval: interval.seconds)
                if getppid() != parent {
                    logger.warning("the supervisor is gone (its process \(parent) ended): stopping")
                    kill(getpid(), SIGTERM)
                    return
                }
            }
        }
        thread.name = "parent-watch"
        thread.start()
    }
}
