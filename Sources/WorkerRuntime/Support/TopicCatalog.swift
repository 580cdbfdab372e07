import Foundation
import Kafka

/// The topic specs kept in `Topics/<topic>.json`: partitions, replication, topic configs.
public enum TopicCatalog {
    private struct File: Decodable {
        var topic: String
        var partitions: Int32
        var replication_factor: Int32?
        var config: [String: String]?
    }

    /// Reads every `*.json` in `directory`, sorted by topic name.
    /// - Throws: a decoding error naming the file that is malformed.
    public static func load(from directory: URL) throws -> [TopicSpec] {
        let files = try FileManager.default.contentsOfDirectory(at: directory.resolvingSymlinksInPath(), includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "json" }
        guard !files.isEmpty else {
            throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: directory.path,
                                                             NSLocalizedDescriptionKey: "no topic specs (*.json) in \(directory.path)"])
        }
        return try files.map { url in
            do {
                let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
                return TopicSpec(name: file.topic, partitions: file.partitions,
                                 replicationFactor: file.replication_factor ?? 1, config: file.config ?? [:])
            } catch {
                throw CocoaError(.fileReadCorruptFile, userInfo: [NSFilePathErrorKey: url.path, NSUnderlyingErrorKey: error])
            }
        }.sorted { $0.name < $1.name }
    }
}
