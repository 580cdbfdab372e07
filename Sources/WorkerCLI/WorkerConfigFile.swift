import ArgumentParser
import Foundation

/// A worker's config file: `KEY=value` lines with the same `CARD_*` names as the environment.
///
/// ```
/// # identity worker, production cluster
/// CARD_BROKERS=kafka-1:9093,kafka-2:9093
/// CARD_KAFKA_SECURITY_PROTOCOL=SASL_SSL
/// CARD_KAFKA_SASL_PASSWORD="s3cret#with#hashes"
/// ```
///
/// Rules: blank lines and lines starting with `#` are skipped (there are no trailing comments:
/// a `#` inside a value is part of it, passwords may contain one); whitespace around the key and
/// the value is trimmed; one pair of matching double or single quotes around the value is
/// removed; a value may contain `=`. A key must be `CARD_` followed by `A–Z`, `0–9` or `_`, may
/// appear only once, and may not be `CARD_CONFIG` (files do not include files).
///
/// Precedence is flag > environment > config file > default: the file only fills in names
/// the environment does not set (``layered(under:)``).
public struct WorkerConfigFile: Sendable, Equatable {
    /// The pairs of the file, by key.
    public var values: [String: String]

    public init(values: [String: String]) { self.values = values }

    /// Parses the text of a config file.
    /// - Parameter source: named in error messages (usually the path).
    /// - Throws: `ValidationError` naming the source and line of the first malformed line.
    public init(parsing text: String, source: String = "config file") throws {
        var values: [String: String] = [:]
        var firstLine: [String: Int] = [:]
        // "\r\n" is one Character in Swift: split on both so CRLF files keep their line numbers.
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (index, rawLine) in lines.enumerated() {
            let number = index + 1
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)  // also drops a CR of CRLF files
            if line.isEmpty || line.hasPrefix("#") { continue }
            func fail(_ why: String) -> ValidationError { ValidationError("\(source) line \(number): \(why)") }
            guard let equals = line.firstIndex(of: "=") else { throw fail("expected KEY=value") }
            let key = line[..<equals].trimmingCharacters(in: .whitespaces)
            var value = line[line.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard Self.isValidKey(key) else {
                throw fail("key \"\(key)\" is not a CARD_* name (CARD_ then A-Z, 0-9, _)")
            }
            guard key != "CARD_CONFIG" else { throw fail("CARD_CONFIG cannot be set from a config file") }
            if let earlier = firstLine[key] { throw fail("\(key) is already set on line \(earlier)") }
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            values[key] = value
            firstLine[key] = number
        }
        self.values = values
    }

    /// Reads and parses the file at `path`.
    /// - Throws: `ValidationError` when the file cannot be read or is malformed.
    public static func load(path: String) throws -> WorkerConfigFile {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ValidationError("cannot read config file \(path): \(error.localizedDescription)")
        }
        return try WorkerConfigFile(parsing: text, source: path)
    }

    /// The environment with this file's values added where the environment has none.
    public func layered(under environment: [String: String]) -> [String: String] {
        environment.merging(values) { fromEnvironment, _ in fromEnvironment }
    }

    /// The environment a worker sees: `environment` over the config file it names
    /// (`configPath`, else its `CARD_CONFIG`); `environment` unchanged when there is none.
    public static func effectiveEnvironment(configPath: String?, environment: [String: String]) throws -> [String: String] {
        guard let path = configPath ?? environment["CARD_CONFIG"], !path.isEmpty else { return environment }
        return try load(path: path).layered(under: environment)
    }

    /// Sets, in this process's environment, every name of the file that is not set yet, so code
    /// that reads `CARD_*` variables directly (worker-specific options) sees the file too.
    public func exportToProcessEnvironment() {
        for (key, value) in values.sorted(by: { $0.key < $1.key }) { setenv(key, value, 0) }
    }

    static func isValidKey(_ key: String) -> Bool {
        guard key.hasPrefix("CARD_"), key.count > "CARD_".count else { return false }
        return key.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("0"..."9").contains($0) || $0 == "_" }
    }
}
