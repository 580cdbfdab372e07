import CardDomain
import Synchronization

/// Per-channel token buckets: `burst` requests at once, refilled at `rate` per second.
///
/// One bucket per key's channel (a channel has one key in practice). State is a dictionary in a
/// `Mutex`; the clock is injected so tests can step it.
public final class RateLimiter: Sendable {
    public enum Decision: Sendable, Equatable {
        case allowed
        /// Refused; a token is due in this many whole seconds (at least 1), for `Retry-After`.
        case limited(retryAfterSeconds: Int)
    }

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private let rate: Double
    private let burst: Double
    private let now: @Sendable () -> ContinuousClock.Instant
    private let buckets = Mutex<[Channel: Bucket]>([:])

    /// - Parameters:
    ///   - rate: tokens per second, > 0.
    ///   - burst: bucket size, ≥ 1.
    public init(rate: Double, burst: Int, now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.rate = max(rate, 0.001)
        self.burst = Double(max(burst, 1))
        self.now = now
    }

    /// Takes one token from `channel`'s bucket if there is one.
    public func take(_ channel: Channel) -> Decision {
        let instant = now()
        return buckets.withLock { buckets in
            var bucket = buckets[channel] ?? Bucket(tokens: burst, updated: instant)
            let elapsed = instant - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(burst, bucket.tokens + max(seconds, 0) * rate)
            bucket.updated = instant
            defer { buckets[channel] = bucket }
            if bucket.tokens >= 1 {
                bucket.tokens -= 1
                return .allowed
            }
            let wait = (1 - bucket.tokens) / rate
            return .limited(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
        }
    }
}
