import CardDomain
import Foundation
import Synchronization

/// Same-origin sessions of the reference portal pages: how a page calls `/v1/` without an API key.
///
/// Each page load (``PortalPages``) opens a session bound to the page's channel and sets it as an
/// `HttpOnly`, `SameSite=Strict` cookie named per channel (`card_portal_<channel>`), so the key never
/// reaches the browser, and pages of two channels open in one browser do not mix. A call with no
/// `Authorization` is accepted on a session only when it also names the channel in `X-Card-Portal`
/// (a header a cross-site form cannot send; the gateway answers no CORS preflight), and that cookie
/// holds a live session of that channel. Sessions live in memory: ``lifetime`` after their last page
/// load, at most ``capacity`` of them (the oldest goes first). Only a gateway started with `--pages`,
/// which it allows on a loopback address only, has any.
public final class PageSessions: Sendable {
    /// The header a page's `fetch` sends with its channel.
    public static let header = "X-Card-Portal"
    public static func cookieName(_ channel: Channel) -> String { "card_portal_\(channel.rawValue)" }

    public let lifetime: Duration
    public let capacity: Int
    private let now: @Sendable () -> ContinuousClock.Instant

    private struct Session {
        var channel: Channel
        var expires: ContinuousClock.Instant
    }

    private let sessions = Mutex<[String: Session]>([:])

    /// - Parameters:
    ///   - lifetime: how long a session lasts after its page was last loaded. Default 2 hours.
    ///   - capacity: most sessions kept at once. Default 10,000.
    public init(lifetime: Duration = .seconds(7200), capacity: Int = 10_000,
                now: @escaping @Sendable () -> ContinuousClock.Instant = { .now }) {
        self.lifetime = lifetime
        self.capacity = max(capacity, 1)
        self.now = now
    }

    /// The session of `token` renewed when it is live and of `channel`, else a new one: its token
    /// (64 hex characters from the system's cryptographic generator).
    public func open(_ channel: Channel, reusing token: String?) -> String {
        let instant = now()
        return sessions.withLock { sessions in
            if let token, let session = sessions[token], session.channel == channel, session.expires > instant {
                sessions[token]?.expires = instant + lifetime
                return token
            }
            sessions = sessions.filter { $0.value.expires > instant }
            if sessions.count >= capacity, let oldest = sessions.min(by: { $0.value.expires < $1.value.expires })?.key {
                sessions[oldest] = nil
            }
            var generator = SystemRandomNumberGenerator()
            let token = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
            sessions[token] = Session(channel: channel, expires: instant + lifetime)
            return token
        }
    }

    /// The channel of a live session: `token` from the cookie of `claimed` (the `X-Card-Portal` value).
    public func channel(claimed: Channel, token: String) -> Channel? {
        let instant = now()
        return sessions.withLock { sessions in
            guard let session = sessions[token], session.channel == claimed, session.expires > instant else { return nil }
            return session.channel
        }
    }
}
