import CardDomain
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import Metrics
import Prometheus
import Testing

/// One Prometheus registry for this test process (swift-metrics is bootstrapped once per process).
let testMetricsRegistry: PrometheusCollectorRegistry = {
    let registry = PrometheusCollectorRegistry()
    MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    return registry
}()

@Suite("The gateway's /metrics")
struct GatewayMetricsTests {
    @Test("requests by route template and status, a latency histogram, rate-limit refusals and view state; no personal data in any line")
    func metrics() async throws {
        let gateway = GatewayUnderTest {
            $0.metrics = testMetricsRegistry
            $0.burst = 3
            $0.requestsPerSecond = 0.01
        }
        let family = TestFamily(serial: 62)
        gateway.add(family)
        let text = try await gateway.test { client -> String in
            #expect(try await client.call(.post, "/v1/eligibility", key: TestKeys.jingtong, body: family.eligibilityBody()).status == .ok)
            #expect(try await client.call(.get, "/v1/applications/web-metrics-\(family.child.idNumber)", key: TestKeys.jingtong).status == .notFound)
            #expect(try await client.call(.get, "/v1/catalogues", key: nil).status == .unauthorized)
            // The bucket holds 3: the 4th call of the key is refused.
            _ = try await client.call(.get, "/v1/catalogues", key: TestKeys.jingtong)
            #expect(try await client.call(.get, "/v1/catalogues", key: TestKeys.jingtong).status == .tooManyRequests)
            let metrics = try await client.call(.get, "/metrics", key: nil)
            #expect(metrics.status == .ok)
            #expect(metrics.headers[.contentType]?.hasPrefix("text/plain") == true)
            return metrics.text
        }
        let lines = text.split(separator: "\n").map(String.init)
        func has(_ parts: String...) -> Bool { lines.contains { line in parts.allSatisfy { line.contains($0) } } }
        #expect(has("hb_requests", "/v1/eligibility", "\"200\""), "\(text)")
        #expect(has("hb_requests", "/v1/applications/{application_id}", "\"404\""), "\(text)")
        #expect(has("hb_requests", "\"401\""), "\(text)")
        #expect(has("http_server_request_duration", "_bucket", "/v1/eligibility"), "\(text)")
        #expect(has("card_gateway_rate_limited_total", "jingtong"), "\(text)")
        #expect(has("card_gateway_views_loaded 1"), "\(text)")
        #expect(has("card_gateway_view_records", "persons"), "\(text)")
        #expect(!text.contains(family.child.idNumber) && !text.contains(family.mother.idNumber) && !text.contains(family.child.name))
    }
}
