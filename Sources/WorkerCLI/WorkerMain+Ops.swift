import Foundation
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Synchronization
import WorkerOps
import WorkerRuntime

extension WorkerMain {
    /// The process's Prometheus registry, bootstrapped into swift-metrics once.
    private static let metricsRegistry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    /// Makes every swift-metrics metric of this process land in the registry `/metrics` serves.
    static func bootstrapMetrics() -> PrometheusCollectorRegistry { metricsRegistry }

    /// The ops HTTP service (`/metrics`, `/healthz`, `/readyz`) when a port is configured.
    /// - Parameters:
    ///   - host: the listen address (`WorkerOptions.resolvedOpsHost`: `--ops-host`, `CARD_OPS_HOST`, default `127.0.0.1`).
    ///   - port: `nil` or 0 leaves it off.
    static func opsService(host: String, port: Int?, health: WorkerHealth, logger: Logger) -> ServiceGroupConfiguration.ServiceConfiguration? {
        guard let port, port > 0 else { return nil }
        let app = OpsServer.application(host: host, port: port, health: health, registry: bootstrapMetrics(), logger: logger) { bound in
            logger.info("ops endpoints listening", metadata: ["ops.host": "\(host)", "ops.port": "\(bound)", "ops.paths": "/metrics /healthz /readyz"])
        }
        return .init(service: app, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
    }
}
