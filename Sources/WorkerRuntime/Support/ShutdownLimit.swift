import Dispatch
import Foundation
import Logging

/// Bounds a graceful shutdown whatever the brokers do.
public enum ShutdownLimit {
    /// After a stop was requested, waits `limit` and, if the process is still alive (librdkafka's
    /// close and destroy wait for brokers that do not answer), logs one line and exits with status 3.
    /// Safe by design: the pipeline's state survives kill -9 at any instant (README, "The guarantee").
    public static func arm(_ limit: Duration, logger: Logger) {
        DispatchQueue.global().asyncAfter(deadline: .now() + limit.seconds) {
            logger.error("shutdown did not finish within \(Int(limit.seconds)) s (brokers unreachable?): exiting; nothing is lost, the next owner goes on from SQLite and the changelog")
            _exit(3)
        }
    }
}

