import Foundation
import FleetSupport
import Kafka
import Logging
import Testing
@testable import OperatorViews

@Suite("Worker ops endpoints, metrics and the stuck-partition watchdog, on a real worker process", .serialized, .timeLimit(.minutes(3)))
struct WorkerOpsTests {
    @Test("/healthz, /readyz and /metrics after real work; a handler that never finishes trips the watchdog; lag turns STALL, then STOP")
    func endpointsMetricsWatchdogAndStall() async throws {
        let h = try OpsWorkerHarness()
        try h.startWorker(stuckAfterSeconds: 2)
        let alive = await OpsSupport.waitFor("\(h.base)/healthz") { status, _ in status == 200 }
        #expect(alive?.body.contains("\"alive\"") == true)

        try await h.produce(["a", "b", "c", "d", "e"])
        let counted = await OpsSupport.waitFor("\(h.base)/metrics") { _, body in
            OpsSupport.metric(body, "card_worker_consumed_total{worker=\"count\"}") == 5
        }
        let metrics = try #require(counted?.body)
        #expect(OpsSupport.metric(metrics, "card_worker_consumed_total{worker=\"count\"}") == 5, "real counter after five messages")
        #expect(OpsSupport.metric(metrics, "card_worker_emitted_total{worker=\"count\"}") == 5)
        #expect(OpsSupport.metric(metrics, "card_worker_assigned_partitions{worker=\"count\"}") == 1)
        #expect(OpsSupport.metric(metrics, "card_worker_stuck_partitions{worker=\"count\"}") == 0)
        #expect(metrics.contains("# TYPE card_worker_batch_duration_seconds histogram"))
        let ready = await OpsSupport.get("\(h.base)/readyz")
        #expect(ready?.status == 200)
        #expect(ready?.body.contains("\"assigned_partitions\":[0]") == true)

        // The group commits and catches up: OK.
        let monitor = try LagMonitor(bootstrapServers: h.cluster.bootstrapServers,
                                     groups: [ConsumerGroupSpec(group: "card-count", topics: ["test.input"])],
                                     rules: LagRules(window: .seconds(3), stopAfter: .seconds(600)), logger: h.logger)
        var report = try await offload { try monitor.sample() }
        for _ in 0..<20 where report.groups[0].lag > 0 {
            try await Task.sleep(for: .milliseconds(300))
            report = try await offload { try monitor.sample() }
        }
        #expect(report.groups[0].status == .ok && report.groups[0].lag == 0, "\(report.groups[0])")

        // A handler that never finishes, with messages behind it.
        try await h.produce(["sleep:300", "f", "g"])
        let stuck = await OpsSupport.waitFor("\(h.base)/metrics") { _, body in
            OpsSupport.metric(body, "card_worker_stuck_partitions{worker=\"count\"}") == 1
        }
        #expect(stuck.map { OpsSupport.metric($0.body, "card_worker_stuck_partitions{worker=\"count\"}") } == 1)
        #expect(await OpsSupport.get("\(h.base)/readyz")?.body.contains("test.input[0]") == true, "readyz names the stuck partition")
        try await Task.sleep(for: .seconds(2))
        let warnings = h.log().components(separatedBy: "\n").filter { $0.contains("partition stuck") }
        #expect(warnings.count == 1, "one warning per episode: \(warnings)")
        #expect(warnings.first?.contains("warning") == true)

        // The same group seen by the lag tool: not moving while messages wait.
        var stall: LagReport.Group?
        for _ in 0..<5 {
            stall = try await offload { try monitor.sample() }.groups[0]
            try await Task.sleep(for: .seconds(1))
        }
        #expect(stall?.status == .stall, "\(String(describing: stall))")
        #expect(stall?.lag == 3)
        #expect((stall?.maxLagSeconds ?? 0) >= 2, "age of the message at the committed offset")

        // Once the waiting message is older than stop-after, no commit has moved past it for that long: STOP.
        let strict = try LagMonitor(bootstrapServers: h.cluster.bootstrapServers,
                                    groups: [ConsumerGroupSpec(group: "card-count", topics: ["test.input"])],
                                    rules: LagRules(window: .seconds(3), stopAfter: .seconds(4)), logger: h.logger)
        var stop: LagReport.Group?
        for _ in 0..<4 {
            stop = try await offload { try strict.sample() }.groups[0]
            try await Task.sleep(for: .seconds(1))
        }
        #expect(stop?.status == .stop, "\(String(describing: stop))")
    }
}
