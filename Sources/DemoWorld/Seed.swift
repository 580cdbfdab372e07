import ArgumentParser
import CardDomain
import FleetSupport
import Foundation
import JSONCodec
import Kafka
import Logging

/// `fleet seed`: publishes the demo reference data, registry.persons and bank.branches.
package struct SeedCommand: AsyncParsableCommand {
    package static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Publish demo reference data: registry.persons for N families and bank.branches for 15 banks x 16 districts.",
        discussion: """
            Families and branches are deterministic (family i is always the same people), so `fleet submit --generate` \
            can pick family i without reading the registry. Each family: a father and a mother born 1975-1995, one or two \
            children under 18 (under 7, 7-15, 16-17), sometimes a grandparent guardian; a few parents are deceased or \
            cancelled. Every bank has an open branch serving minors, <BANK>-<DDDD>-01, in every district, plus some closed \
            ones and some that do not serve minors.
            """)

    @Option(help: "Bootstrap servers; default: the embedded broker's <run-dir>/bootstrap.") var brokers: String?
    @Option(help: "Run folder of the embedded broker.") var runDir = "run"
    @Option(help: "Number of demo families to publish.") var families = 2000
    @Flag(help: "Publish only registry.persons.") var personsOnly = false
    @Flag(help: "Publish only bank.branches.") var branchesOnly = false

    package init() {}

    package func validate() throws {
        guard families >= 0 else { throw ValidationError("--families must not be negative") }
        guard !(personsOnly && branchesOnly) else { throw ValidationError("--persons-only and --branches-only exclude each other") }
    }

    package func run() async throws {
        let servers = try brokers ?? BrokerList.embedded(runDir: runDir)
        let producer = try KafkaProducer(
            configuration: KafkaProducerConfiguration(client: KafkaClientConfiguration(bootstrapServers: servers, clientID: "fleet-seed")),
            logger: Logger(label: "card.seed"))
        let encoder = CardJSON.encoder()

        if !branchesOnly {
            var records: [ProducerRecord] = []
            var stats = SeedStats()
            for index in 0..<families {
                let family = DemoFamilies.family(index)
                stats.add(family)
                for person in family.members {
                    records.append(ProducerRecord(topic: "registry.persons", key: Array(person.idNumber.utf8),
                                                  value: Array(try encoder.encode(person.record))))
                }
            }
            try await publish(records, to: "registry.persons", with: producer)
            let unique = Set(records.compactMap(\.key)).count
            Terminal.say("registry.persons: \(records.count) person(s) in \(families) famil\(families == 1 ? "y" : "ies"): \(stats.summary)")
            if unique != records.count {
                Terminal.error("warning: \(records.count - unique) ID number(s) repeat (more than \(DemoFamilies.uniquePerDistrict * 16) families); the later person wins on the compacted topic")
            }
        }
        if !personsOnly {
            let branches = DemoBranches.all
            let records = try branches.map { branch in
                ProducerRecord(topic: "bank.branches", key: Array(branch.key.utf8), value: Array(try encoder.encode(branch)))
            }
            try await publish(records, to: "bank.branches", with: producer)
            let closed = branches.filter { !$0.open }.count
            let noMinors = branches.filter { $0.open && !$0.servesMinors }.count
            Terminal.say("bank.branches: \(branches.count) branch(es) of \(Bank.allCases.count) banks in \(DemoFamilies.districts.count) districts: \(closed) closed, \(noMinors) open but not serving minors")
        }
    }

    private func publish(_ records: [ProducerRecord], to topic: String, with producer: KafkaProducer) async throws {
        var failed: [KafkaError] = []
        for start in stride(from: 0, to: records.count, by: 5000) {
            let batch = Array(records[start..<min(start + 5000, records.count)])
            failed += await producer.send(batch).compactMap { $0 }
        }
        guard failed.isEmpty else {
            throw ValidationError("\(failed.count) of \(records.count) record(s) to \(topic) not delivered: \(failed[0])")
        }
    }
}

/// Counts for the seed summary.
struct SeedStats {
    var children = 0
    var bands: [DemoFamilies.AgeBand: Int] = [:]
    var guardians = 0
    var deceased = 0
    var cancelled = 0

    mutating func add(_ family: DemoFamilies.Family) {
        children += family.children.count
        for child in family.children {
            if let band = DemoFamilies.band(of: child.birthDate) { bands[band, default: 0] += 1 }
        }
        if family.guardian != nil { guardians += 1 }
        for person in family.members {
            if person.record.status == .deceased { deceased += 1 }
            if person.record.status == .cancelled { cancelled += 1 }
        }
    }

    var summary: String {
        let byBand = DemoFamilies.AgeBand.allCases.map { "\(bands[$0, default: 0]) \($0.rawValue)" }.joined(separator: ", ")
        return "\(children) children (\(byBand)), \(guardians) guardian(s), \(deceased) deceased, \(cancelled) cancelled"
    }
}
