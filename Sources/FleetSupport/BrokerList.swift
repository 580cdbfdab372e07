import ArgumentParser
import Foundation

/// Where the `fleet` commands find the broker when `--brokers` is not given.
public enum BrokerList {
    /// The bootstrap list the embedded broker published.
    public static func embedded(runDir: String) throws -> String {
        let path = URL(fileURLWithPath: runDir).appendingPathComponent("bootstrap").path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8), !text.isEmpty else {
            throw ValidationError("no broker: pass --brokers or start the embedded one (fleet up / fleet broker) so \(path) exists")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
