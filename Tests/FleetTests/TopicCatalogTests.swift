import Foundation
import Testing
import WorkerRuntime

@Suite("Topics/ as the fleet creates them")
struct TopicCatalogTests {
    static var topicsDirectory: URL {
        var url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Topics").path) && url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url.appendingPathComponent("Topics")
    }

    @Test("every contract topic and the internal ones load with partitions and configs")
    func loadsEveryTopic() throws {
        let specs = try TopicCatalog.load(from: Self.topicsDirectory)
        let names = Set(specs.map(\.name))
        for topic in ["card.submission", "card.identity-verification", "card.bank-routing", "card.card-production", "card.orders",
                      "card.bank-events", "card.status", "card.dlq", "registry.persons", "bank.branches", "card.application-closed"] {
            #expect(names.contains(topic), "missing \(topic)")
        }
        #expect(specs.allSatisfy { $0.partitions > 0 })
        let byName = Dictionary(uniqueKeysWithValues: specs.map { ($0.name, $0) })
        #expect(byName["registry.persons"]?.config["cleanup.policy"] == "compact")
        #expect(byName["bank.branches"]?.config["cleanup.policy"] == "compact")
        #expect(byName["card.submission"]?.config["cleanup.policy"] == "delete")
    }

    @Test("topics a worker reads together are co-partitioned, so one state file holds both")
    func coPartitionedPairs() throws {
        let byName = Dictionary(uniqueKeysWithValues: try TopicCatalog.load(from: Self.topicsDirectory).map { ($0.name, $0.partitions) })
        #expect(byName["card.submission"] == byName["card.application-closed"], "intake frees a child on the partition that holds it")
        #expect(byName["card.card-production"] == byName["card.bank-events"], "an order and its bank events share a partition")
    }

    @Test("a folder without topic specs is an error, not an empty fleet")
    func emptyFolderIsAnError() throws {
        let empty = FileManager.default.temporaryDirectory.appendingPathComponent("no-topics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: empty) }
        let error = #expect(throws: TopicCatalogError.self) { try TopicCatalog.load(from: empty) }
        #expect(error?.description == "no topic specs (*.json) in \(empty.path)")
    }

    // `fleet up` run outside the repository printed Foundation's whole NSCocoaErrorDomain dictionary.
    @Test("a missing folder and a file that is not a topic spec are one-line errors that name the path")
    func unreadableFoldersSayWhy() throws {
        let missing = FileManager.default.temporaryDirectory.appendingPathComponent("missing-\(UUID().uuidString)")
        let error = #expect(throws: TopicCatalogError.self) { try TopicCatalog.load(from: missing) }
        #expect(error?.description == "no topic folder at \(missing.path): run from the repository root or pass --topics-dir")

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("bad-topics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(#"{"partitions": 3}"#.utf8).write(to: folder.appendingPathComponent("card.x.json"))
        let bad = #expect(throws: TopicCatalogError.self) { try TopicCatalog.load(from: folder) }
        #expect(bad?.description.hasPrefix("\(folder.appendingPathComponent("card.x.json").path) is not a topic spec") == true)
        #expect(bad?.description.contains("NSCocoaErrorDomain") == false)
    }
}
