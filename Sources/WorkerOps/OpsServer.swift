import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import WorkerRuntime

/// A worker's ops HTTP surface, a `Service` for the worker's `ServiceGroup`:
/// - `GET /metrics`: every metric of the process in Prometheus text format;
/// - `GET /healthz`: 200 while the process serves at all (alive);
/// - `GET /readyz`: 200 when partitions are assigned and reference tables caught up, else 503,
///   with the health snapshot as JSON either way.
public enum OpsServer {
    /// The routes, separate from the listener so tests can drive them in memory.
    public static func router(health: WorkerHealth, registry: PrometheusCollectorRegistry) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/metrics") { _, _ -> Response in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 * 1024)
            registry.emit(into: &buffer)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
        }
        router.get("/healthz") { _, _ -> Response in
            json(.ok, ["status": "alive", "worker": health.worker])
        }
        router.get("/readyz") { _, _ -> Response in
            let snapshot = health.snapshot()
            return json(snapshot.ready ? .ok : .serviceUnavailable, snapshot)
        }
        return router
    }

    /// The HTTP application listening on `host:port`; run it as a service of the worker's group.
    /// - Parameter onListening: called with the bound port once the server accepts connections.
    public static func application(host: String, port: Int, health: WorkerHealth, registry: PrometheusCollectorRegistry,
                                   logger: Logger, onListening: @escaping @Sendable (Int) -> Void = { _ in }) -> some Service {
        Application(
            router: router(health: health, registry: registry),
            configuration: .init(address: .hostname(host, port: port), serverName: "card-worker-ops"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? port) },
            logger: logger)
    }

    private static func json(_ status: HTTPResponse.Status, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
