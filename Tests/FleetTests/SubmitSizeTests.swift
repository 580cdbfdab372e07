import CardDomain
import Foundation
import FleetSupport
import JSONCodec
import Kafka
import Logging
import Testing
import WorkerRuntime

/// Issue 11 (sizes): the fleet's own producers refuse what they cannot send, saying why.
@Suite("fleet submit: records over the producer's limit", .timeLimit(.minutes(2)))
struct SubmitSizeTests {
    @Test("fleet submit refuses a record over message.max.bytes with both sizes, sends the rest, and exits 1")
    func oversizedRecordRefused() async throws {
        let cluster = try EmbeddedCluster(logger: Logger(label: "test.submit-size"))
        for spec in try TopicCatalog.load(from: FleetTestSupport.topicsDirectory) { try cluster.createTopic(spec) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("oversized-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        let huge = String(repeating: "A", count: 1_100_000)
        try Data(#"[{"submission_id":"web-big-1","address":"\#(huge)"},{"submission_id":"web-small-1"}]"#.utf8).write(to: file)

        let log = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-\(UUID().uuidString).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let child = try ChildProcess(name: "fleet", executable: BuildProducts.executable("fleet"),
                                     arguments: ["submit", "--brokers", cluster.bootstrapServers, file.path], logFile: log)
        let status = await child.waitAsync(timeout: .seconds(60))
        if status == nil { child.signal(SIGKILL) }
        let output = readGrowingTextFile(log)
        #expect(status == 1, "exits 1, not hanging: \(output.suffix(1000))")
        #expect(output.contains("1/2 NOT delivered") && output.contains("over the producer's message.max.bytes (1000000)"), "\(output.suffix(1000))")
        #expect(output.contains("2/2 sent"))

        let reader = try TopicReader(bootstrapServers: cluster.bootstrapServers)
        try reader.start(["card.submission"])
        let messages = reader.read(timeout: .seconds(20)) { $0.count >= 1 }.messages
        #expect(messages.compactMap { JSONValue(parsing: $0.value ?? [])?["submission_id"]?.stringValue } == ["web-small-1"])
    }
}
