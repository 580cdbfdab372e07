import Foundation
import Kafka

/// The topic specs kept in `Topics/<topic>.json`: partitions, replication, topic configs; and the
/// workers' state topics in `Topics/changelog/<topic>.json` (same shape): the state changelogs,
/// whose values are binary SQLite changesets, and the membership topic of their standby copies;
/// internal, so they carry no JSON Schema and stay out of the contract's schema checks.
public enum TopicCatalog {
    /// Sub-folder of the topic folder holding the state changelog topics and `card.worker-membership` (docs/state-changelog.md).
    public static let changelogFolder = "changelog"

    private struct File: Decodable {
        var topic: String
        var partitions: Int32
        var replication_factor: Int32?
        var config: [String: String]?
    }

    /// Reads every `*.json` in `directory` and in its `changelog/` sub-folder (when present), sorted by topic name.
    /// - Throws: a decoding error naming the file that is malformed.
    /// - Throws: ``TopicCatalogError`` when the folder is missing, holds no `*.json`, or a file is not a topic spec.
    public static func load(from directory: URL) throws -> [TopicSpec] {
        let files: [URL]
        do {
            files = try FileManager.default.contentsOfDirectory(at: directory.resolvingSymlinksInPath(), includingPropertiesForKeys: nil)
                .filter { $0.pathExtension == "json" }
        } catch {
            throw TopicCatalogError("no topic folder at \(directory.path): run from the repository root or pass --topics-dir")
        }
        guard !files.isEmpty else { throw TopicCatalogError("no topic specs (*.json) in \(directory.path)") }
        let changelogs = (try? FileManager.default.contentsOfDirectory(
            at: directory.resolvingSymlinksInPath().appendingPathComponent(changelogFolder), includingPropertiesForKeys: nil))?
            .filter { $0.pathExtension == "json" } ?? []
        return try (files + changelogs).map { url in
            do {
                let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
                return TopicSpec(name: file.topic, partitions: file.partitions,
                                 replicationFactor: file.replication_factor ?? 1, config: file.config ?? [:])
            } catch {
                throw TopicCatalogError("\(url.path) is not a topic spec (topic, partitions, replication_factor, config): \(error)")
            }
        }.sorted { $0.name < $1.name }
    }
}

/// A `Topics/` folder that cannot be read, in one line an operator can act on (a command-line tool
/// prints `description`; Foundation's file errors print their whole user-info dictionary).
public struct TopicCatalogError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}
