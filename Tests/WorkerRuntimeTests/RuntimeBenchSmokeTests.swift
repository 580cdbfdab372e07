import FleetSupport
import Foundation
import Testing

/// A smoke test that `fleet bench-runtime` works end to end: embedded broker, input, both child
/// variants, the final table. It asserts nothing about speed.
@Suite("Runtime bench: smoke", .timeLimit(.minutes(5)))
struct RuntimeBenchSmokeTests {
    @Test("fleet bench-runtime --messages 2000 --batch-sizes 100 exits 0 and prints the table with both variants")
    func smallRun() async throws {
        let fleet = BuildProducts.executable("fleet")
        try #require(FileManager.default.isExecutableFile(atPath: fleet.path), "fleet not built at \(fleet.path)")
        try #require(FileManager.default.isExecutableFile(atPath: BuildProducts.executable("count-worker").path), "count-worker not built")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-smoke-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("bench.log")
        let json = directory.appendingPathComponent("bench.json")

        let bench = try ChildProcess(
            name: "bench-runtime", executable: fleet,
            arguments: ["bench-runtime", "--messages", "2000", "--batch-sizes", "100", "--timeout", "180",
                        "--work-dir", directory.appendingPathComponent("work").path, "--json", json.path],
            logFile: log)
        let status = await bench.waitAsync(timeout: .seconds(240))
        if status == nil { bench.signal(SIGKILL) }
        let output = readGrowingTextFile(log)
        #expect(status == 0, "bench exit status; its output:\n\(output)")

        let rows = output.split(separator: "\n").map { line in
            line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let header = rows.first { $0.first == "variant" }
        #expect(header == ["variant", "batch", "msgs/s (total)", "msgs/s (steady)", "first output s", "child CPU s", "peak RSS MiB", "status"],
                "table header; output:\n\(output)")
        for variant in ["relay", "worker"] {
            let row = rows.first { $0.count == 8 && $0[0] == variant && $0[1] == "100" }
            #expect(row != nil, "a \(variant) row for batch 100; output:\n\(output)")
            guard let row else { continue }
            #expect(row[7] == "ok")
            #expect((Int(row[2].replacingOccurrences(of: ",", with: "")) ?? 0) > 0, "a positive total rate: \(row)")
            #expect((Double(row[6]) ?? 0) > 0, "a peak RSS: \(row)")
        }
        #expect(rows.contains { $0.count == 3 && $0[0] == "100" }, "the worker/relay ratio line for batch 100")

        let results = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any]
        let runs = results?["runs"] as? [[String: Any]] ?? []
        #expect(Set(runs.compactMap { $0["variant"] as? String }) == ["relay", "worker"])
        #expect(runs.allSatisfy { ($0["outputCount"] as? Int ?? 0) >= 2000 }, "every output topic reached the input count")
    }
}
