import CardDomain
import Foundation
import Kafka
import Prometheus

/// Everything the gateway needs to serve: who may call, how much, and where Kafka is.
///
/// The executable builds it from flags and environment (`CARD_GATEWAY_*`); tests build it directly.
public struct GatewayConfiguration: Sendable {
    /// One key per channel; the key a request presents decides its channel.
    public var keys: APIKeys
    /// Sustained requests per second each key may make. Default 50.
    public var requestsPerSecond: Double = 50
    /// Requests a key may make at once above the sustained rate (token bucket size). Default 100.
    public var burst: Int = 100
    /// Largest request body accepted, in bytes; larger is 413 `SUBMISSION_TOO_LARGE`. Default
    /// ``SubmissionSize/maxBytes`` (256 KiB): a bigger submission could not be passed on anyway.
    public var maxBodyBytes: Int = SubmissionSize.maxBytes
    /// Longest `?wait=` a status request may hold the connection. Default 30 s.
    public var maxWait: Duration = .seconds(30)
    /// Where `PUT /v1/uploads/{sha256}` keeps the bytes behind claim checks; `nil`: uploads answer 503
    /// `UPLOAD_STORAGE_UNAVAILABLE`.
    public var uploads: UploadStore?
    /// Largest upload in bytes; larger is 413 `UPLOAD_TOO_LARGE`. Default 9,175,040 (8.75 MiB), the
    /// contract's largest photo (``DocumentRules/photoBytes``).
    public var maxUploadBytes: Int = DocumentRules.photoBytes.upperBound
    /// The reference portal pages and their sessions; `nil` (the default): no pages, no sessions, `/v1/`
    /// only with API keys. The executable sets it with `--pages`, on a loopback address only.
    public var pages: (templates: PortalPages, sessions: PageSessions)?
    /// The process's Prometheus registry for `GET /metrics`; `nil`: no `/metrics` route.
    public var metrics: PrometheusCollectorRegistry?

    public init(keys: APIKeys) { self.keys = keys }
}

/// Topic names the gateway reads and writes (the contract's).
public enum GatewayTopics {
    public static let submission = "card.submission"
    public static let status = "card.status"
    public static let registry = "registry.persons"
    public static let branches = "bank.branches"
    /// Everything the views are kept from.
    public static let viewed = [registry, branches, submission, status]
}
