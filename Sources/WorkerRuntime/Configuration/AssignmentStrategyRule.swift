import Foundation

/// Which `partition.assignment.strategy` a worker can run with. Pure.
///
/// A worker consuming several topics needs them co-partitioned: partition N of each topic on
/// the same instance, because they share partition N's state file (`WorkerHandler.inputTopics`).
/// Of librdkafka's assignors only `range` guarantees that (it splits each topic into the same
/// ranges over the same sorted members); `roundrobin` and `cooperative-sticky` (KIP-429) spread
/// partitions over all topics together and may give partition N of two topics to two instances.
/// librdkafka uses the first strategy of the list that every member supports, so the list
/// must start with `range`. A worker with one input topic takes any strategy, cooperative included.
public enum AssignmentStrategyRule {
    public struct Refused: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// - Parameters:
    ///   - strategy: the configured `partition.assignment.strategy` (comma-separated), `nil` for librdkafka's default `range,roundrobin`.
    ///   - inputTopics: the topics the worker's group subscribes to.
    /// - Throws: `Refused`, naming the topics and the fix, when co-partitioning could break.
    public static func validate(strategy: String?, inputTopics: [String]) throws {
        guard let strategy, inputTopics.count > 1 else { return }
        let first = strategy.split(separator: ",").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
        guard first != "range" else { return }
        throw Refused(description: """
            partition.assignment.strategy=\(strategy) refused: this worker consumes \(inputTopics.joined(separator: " and ")) \
            co-partitioned (partition N of each shares one state file), and only the range assignor keeps them on one \
            instance; \(first) may split them. Leave the setting unset (librdkafka's default range,roundrobin) or set range.
            """)
    }
}
