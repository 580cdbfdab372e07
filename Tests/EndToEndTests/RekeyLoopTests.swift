import CardDomain
import Foundation
import Kafka
import Testing

/// A record that was re-keyed once already and still is not where this instance's partitioner puts
/// it (instances disagree on the partitioner, or an outside client set the header) is a dead letter:
/// never forwarded back and forth, never processed on a partition that does not hold its child.
@Suite("End to end: a re-keyed record is forwarded at most once", .serialized, .timeLimit(.minutes(3)))
struct RekeyLoopTests {
    @Test("a submission carrying card-rekeyed-from on the wrong partition is dead-lettered with the cause, not forwarded again")
    func secondForwardRefused() async throws {
        let fleet = try PipelineHarness(registryGraceSeconds: 20)
        let family = Family(31)
        let key = Array(family.child.idNumber.utf8)
        let target = KafkaPartitioner.fleetDefault.partition(forKey: key, partitionCount: 24)
        let wrong = (target + 7) % 24
        try await fleet.producer.send(ProducerRecord(topic: "card.submission", partition: wrong, key: key,
                                                     value: Array(family.submission(id: "rekey-twice").utf8),
                                                     headers: [KafkaHeader(name: "card-rekeyed-from", string: "3/17")]))
        let lettered = await fleet.waitUntil { fleet.deadLetters().contains { $0.sourceTopic == "card.submission" && $0.error.contains("re-keyed once already") } }
        #expect(lettered, "dead letters: \(fleet.deadLetters().map(\.error))")
        await fleet.settle()
        #expect(fleet.statuses("rekey-twice").isEmpty, "processed on a partition that does not hold the child")
        let forwarded = try fleet.read("card.submission").filter { $0.partition == target }
        #expect(forwarded.isEmpty, "forwarded again: \(forwarded.count)")
        _ = await fleet.stop()
    }
}
