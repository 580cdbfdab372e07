import CardDomain
import CardWorkers
import DemoWorld
import Foundation
import JSONCodec
import Kafka

/// Demo families and submissions at any scale, for `fleet bench` and `fleet chaos`.
///
/// ``DemoFamilies`` guarantees unique ID numbers for 2,000 families (about 2,900 children), and
/// the contract allows one active application per child, so a run of 100,000 applications needs
/// more people. Generation `g` of the population is the demo population with every ID number's
/// 6-digit address code replaced by `2GGGXX` (`XX` the district's last two digits; generation 0
/// keeps the real Beijing codes). Birth date, sequence and sex digit stay, the check character is
/// recomputed (or kept wrong where the demo number was deliberately wrong), so numbers stay valid
/// and unique across generations, and families, flaws and branches stay those of the demo data.
/// Application `i` is submission `i % C` of generation `i / C` of a ``SubmissionGenerator`` run
/// (`C` = children of the demo families), so no child is named twice.
struct ScaledPopulation: Sendable {
    let families: Int
    let invalidShare: Double
    let lateShare: Double
    let seed: UInt64
    let runID: String
    /// Children per generation.
    let perGeneration: Int

    init(families: Int = 2000, invalidShare: Double, lateShare: Double, seed: UInt64, runID: String) {
        self.families = families
        self.invalidShare = invalidShare
        self.lateShare = lateShare
        self.seed = seed
        self.runID = runID
        perGeneration = DemoFamilies.childRefs(families: families).count
    }

    func generations(for applications: Int) -> Int { max(1, (applications + perGeneration - 1) / perGeneration) }

    /// The ID number of generation `g`: a new address code, the check character recomputed
    /// when the original was valid and kept wrong when it was not. Other text is returned as is.
    static func remap(_ id: String, generation g: Int) -> String {
        guard g > 0, id.utf8.count == 18 else { return id }
        let chars = Array(id)
        guard chars[0..<17].allSatisfy(\.isASCII), chars[0..<17].allSatisfy(\.isNumber) else { return id }
        let original17 = String(chars[0..<17])
        let wasValid = IDNumber.checkCharacter(forFirst17: original17) == chars[17]
        let district = String(chars[4..<6])
        let region = "2" + DemoFamilies.padded(g % 1000, 3) + district
        let first17 = region + String(chars[6..<17])
        guard let check = IDNumber.checkCharacter(forFirst17: first17) else { return id }
        if wasValid { return first17 + String(check) }
        // Keep it wrong: any other check character.
        let alphabet = Array("0123456789X")
        let wrong = alphabet[(alphabet.firstIndex(of: check)! + 1) % alphabet.count]
        return first17 + String(wrong)
    }

    /// registry.persons records for every person of every generation the run needs.
    func registryRecords(for applications: Int) throws -> [ProducerRecord] {
        let encoder = CardJSON.encoder()
        var records: [ProducerRecord] = []
        let base = (0..<families).map(DemoFamilies.family)
        for g in 0..<generations(for: applications) {
            for family in base {
                for person in family.members {
                    var record = person.record
                    record.idNumber = Self.remap(record.idNumber, generation: g)
                    record.fatherID = record.fatherID.map { Self.remap($0, generation: g) }
                    record.motherID = record.motherID.map { Self.remap($0, generation: g) }
                    record.guardianIDs = record.guardianIDs.map { Self.remap($0, generation: g) }
                    records.append(ProducerRecord(topic: CardTopics.registryPersons, key: Array(record.idNumber.utf8),
                                                  value: Array(try encoder.encode(record))))
                }
            }
        }
        return records
    }

    /// bank.branches records (the demo branches).
    static func branchRecords() throws -> [ProducerRecord] {
        let encoder = CardJSON.encoder()
        return try DemoBranches.all.map { branch in
            ProducerRecord(topic: CardTopics.bankBranches, key: Array(branch.key.utf8), value: Array(try encoder.encode(branch)))
        }
    }

    /// One application to submit, with what the pipeline should make of it.
    struct Application: Sendable {
        var submissionID: String
        var key: [UInt8]
        var value: [UInt8]
        var expected: SubmissionGenerator.Expected
    }

    /// Builds applications `range`, submitted at `at`. Generators are made once per generation.
    func applications(_ range: Range<Int>, at: Timestamp) -> [Application] {
        var generators: [Int: SubmissionGenerator] = [:]
        return range.map { i in
            let g = i / perGeneration
            let generator = generators[g] ?? SubmissionGenerator(options: .init(
                families: families, invalidShare: invalidShare, lateShare: lateShare,
                seed: seed &+ UInt64(g), runID: runID + "g" + String(g)))
            generators[g] = generator
            let made = generator.make(i % perGeneration, at: at)
            var text = String(decoding: made.bytes, as: UTF8.self)
            var key = made.key
            if g > 0 {
                for path in ["agent", "applicant"] {
                    guard let id = made.value[path]?["id_number"]?.stringValue else { continue }
                    let mapped = Self.remap(id, generation: g)
                    if mapped != id { text = text.replacingOccurrences(of: "\"" + id + "\"", with: "\"" + mapped + "\"") }
                    if path == "applicant" { key = mapped }
                }
            }
            return Application(submissionID: made.submissionID, key: Array(key.utf8), value: Array(text.utf8), expected: made.expected)
        }
    }
}
