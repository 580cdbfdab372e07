import CardDomain
import Metrics

/// The gateway's own metrics beside Hummingbird's `MetricsMiddleware` (requests by route template, method
/// and status: `hb_requests`, latency histogram `http_server_request_duration`). Labels are channels,
/// views and results, never anything a person typed: an application id or ID number is in no label.
enum GatewayMetrics {
    /// Requests refused by a key's rate limit (429), by channel.
    static func rateLimited(_ channel: Channel) {
        Counter(label: "card_gateway_rate_limited_total", dimensions: [("channel", channel.rawValue)]).increment()
    }

    /// `PUT /v1/uploads/{sha256}` outcomes by result (`created`, `existing`, `refused`), and bytes stored.
    static func upload(_ result: String, bytes: Int = 0) {
        Counter(label: "card_gateway_uploads_total", dimensions: [("result", result)]).increment()
        if bytes > 0 { Counter(label: "card_gateway_upload_bytes_total").increment(by: bytes) }
    }

    /// View freshness, set by ``ViewFeeder``: whether the views are loaded, how many records each holds,
    /// how many records the views' partitions hold that the gateway has not applied yet, and when it
    /// last had none left (Unix seconds).
    static func views(loaded: Bool, counts: GatewayViews.Counts) {
        Gauge(label: "card_gateway_views_loaded").record(loaded ? 1 : 0)
        for (view, value) in [("persons", counts.persons), ("branches", counts.branches), ("applications", counts.applications),
                              ("statuses", counts.statuses), ("refused", counts.refused)] {
            Gauge(label: "card_gateway_view_records", dimensions: [("view", view)]).record(value)
        }
    }

    static func viewsBehind(records: Int64, caughtUpAt: Double?) {
        Gauge(label: "card_gateway_views_behind_records").record(records)
        if let caughtUpAt { Gauge(label: "card_gateway_views_caught_up_timestamp_seconds").record(caughtUpAt) }
    }
}
