import CardDomain
import HTTPTypes
import Hummingbird

/// The request context of the gateway: Hummingbird's core storage plus the caller's channel,
/// set by ``PortalAccess`` from the API key.
public struct GatewayContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The channel of the API key the request presented; `nil` on the open paths.
    public var channel: Channel?

    public init(source: Source) {
        coreContext = .init(source: source)
        channel = nil
    }
}

/// API key and rate limit in front of every `/v1/` path: no or an unknown key is 401, a key over its
/// rate is 429 with `Retry-After`. `/openapi.json`, `/healthz`, `/readyz`, `/metrics` and the pages stay open.
///
/// With pages on (``PageSessions``), a request without `Authorization` that names its channel in
/// `X-Card-Portal` and carries that channel's live session cookie is the channel's, under the same rate limit.
struct PortalAccess: RouterMiddleware {
    typealias Context = GatewayContext

    let keys: APIKeys
    let limiter: RateLimiter
    var sessions: PageSessions? = nil

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path.hasPrefix("/v1/") else { return try await next(request, context) }
        guard let channel = caller(request) else {
            return GatewayError.unauthorized().response
        }
        if case .limited(let seconds) = limiter.take(channel) {
            GatewayMetrics.rateLimited(channel)
            context.logger.notice("rate limited", metadata: ["channel": "\(channel.rawValue)", "retry_after_seconds": "\(seconds)"])
            return GatewayError.rateLimited(retryAfterSeconds: seconds).response
        }
        var context = context
        context.channel = channel
        context.logger[metadataKey: "channel"] = "\(channel.rawValue)"
        return try await next(request, context)
    }

    /// The channel of the key presented, else of the page session named by `X-Card-Portal`.
    private func caller(_ request: Request) -> Channel? {
        if let authorization = request.headers[.authorization] {
            return APIKeys.presentedKey(authorization: authorization).flatMap(keys.channel(forKey:))
        }
        guard let sessions, let name = HTTPField.Name(PageSessions.header),
              let claimed = request.headers[name].flatMap(Channel.init(rawValue:)),
              let token = request.cookies[PageSessions.cookieName(claimed)]?.value else { return nil }
        return sessions.channel(claimed: claimed, token: token)
    }
}

/// An unmatched path or method answers the gateway's JSON error (`PATH_NOT_FOUND`) like every other
/// refusal, instead of Hummingbird's empty 404: a portal's client parses one error shape.
struct UnmatchedRouteAsJSON: RouterMiddleware {
    typealias Context = GatewayContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            return GatewayError.pathNotFound().response
        }
    }
}
