import CardDomain
import Foundation
import FleetSupport
import Kafka
import Testing

/// Issue 11 (sizes), cases ow-04a and ow-04c, through the real worker processes: an input whose
/// outputs would not fit is refused with its reason, and intake goes on with the same partition.
@Suite("End to end: inputs whose outputs could not fit", .serialized, .timeLimit(.minutes(3)))
struct SizeTests {
    @Test("ow-04a: 20,000 non-strings in card.functions are rejected with SCHEMA_INVALID in a status that fits; the next record goes on")
    func amplifierRejected() async throws {
        let fleet = try PipelineHarness(registryGraceSeconds: 60)
        let family = Family(41)
        let zeros = Array(repeating: "0", count: 20_000).joined(separator: ",")
        let amplifier = family.submission(id: "size-amplifier")
            .replacingOccurrences(of: #""functions": ["social_security"]"#, with: #""functions": [\#(zeros)]"#)
        #expect(amplifier.utf8.count < 60_000)
        try await fleet.submit(amplifier, applicantID: family.child.idNumber)
        // Same key, so the same partition: it must not be stuck behind the amplifier.
        try await fleet.submit(family.submission(id: "size-after-amplifier"), applicantID: family.child.idNumber)

        await fleet.waitForStatus("size-after-amplifier", .received)
        let rejected = try #require(fleet.statuses("size-amplifier").first { $0.status == .rejected })
        #expect(rejected.reasons.contains { $0.code == .schemaInvalid && $0.field == "card.functions[0]" })
        #expect(rejected.reasons.count <= ReasonBounds.maxPerCode)
        let raw = try #require(fleet.collected["card.status"]?.first { $0.key == Array("size-amplifier".utf8) })
        #expect((raw.value?.count ?? .max) < 100_000, "a rejected status of \(raw.value?.count ?? -1) bytes")
        #expect(fleet.statuses("size-after-amplifier").map(\.status) == [.received])
        #expect(fleet.workers["intake"]?.isRunning == true, "intake did not crash: \(fleet.logs()["intake"]?.suffix(2000) ?? "")")
        #expect(fleet.deadLetters().isEmpty)
    }

    @Test("ow-04c: a 1,040,000-byte submission (legal for a Java producer) is rejected with SUBMISSION_TOO_LARGE; the next record goes on")
    func nearOneMiBRejected() async throws {
        let fleet = try PipelineHarness(registryGraceSeconds: 60)
        let family = Family(42)
        let plain = family.submission(id: "size-near-1mib")
        let big = plain.replacingOccurrences(of: "永安里20号", with: "永安里20号" + String(repeating: "A", count: 1_040_000 - plain.utf8.count))
        #expect(big.utf8.count == 1_040_000)
        // The Java client's default max.request.size is 1 MiB; librdkafka's message.max.bytes must be raised to match.
        let javaLike = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(
            bootstrapServers: fleet.cluster.bootstrapServers, extraProperties: ["message.max.bytes": "1048576"])), logger: fleet.logger)
        try await javaLike.send(ProducerRecord(topic: "card.submission", key: Array(family.child.idNumber.utf8), value: Array(big.utf8)))
        try await fleet.submit(family.submission(id: "size-after-1mib"), applicantID: family.child.idNumber)

        await fleet.waitForStatus("size-after-1mib", .received)
        let statuses = fleet.statuses("size-near-1mib")
        #expect(statuses.map(\.status) == [.rejected])
        #expect(statuses.first?.reasons.map(\.code) == [.submissionTooLarge])
        #expect(fleet.statuses("size-after-1mib").map(\.status) == [.received])
        #expect(fleet.workers["intake"]?.isRunning == true, "intake did not crash: \(fleet.logs()["intake"]?.suffix(2000) ?? "")")
        #expect(fleet.deadLetters().isEmpty)
    }
}
