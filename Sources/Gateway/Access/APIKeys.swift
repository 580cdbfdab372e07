import CardDomain
import Foundation

/// The portals' API keys, one (or more) per channel.
///
/// Keys are never kept as given: each is held as its SHA-256, and a presented key is hashed and
/// compared with every configured digest over all 32 bytes, without stopping at the first match or
/// the first differing byte. So the time an answer takes says nothing about how close a guess was,
/// nor which key matched, nor how long the keys are.
public struct APIKeys: Sendable {
    struct Entry: Sendable {
        var digest: [UInt8]
        var channel: Channel
    }

    private let entries: [Entry]

    /// The channels that have a key.
    public var channels: Set<Channel> { Set(entries.map(\.channel)) }

    public var isEmpty: Bool { entries.isEmpty }

    /// - Parameter keys: channel and key pairs. A key shorter than 16 characters is refused: it
    ///   could be guessed within the rate limit's reach.
    /// - Throws: ``APIKeysError`` for a short or repeated key.
    public init(_ keys: [(channel: Channel, key: String)]) throws {
        var seen = Set<[UInt8]>()
        var entries: [Entry] = []
        for (channel, key) in keys {
            guard key.utf8.count >= Self.minimumLength else {
                throw APIKeysError(reason: "the key of \(channel.rawValue) is \(key.utf8.count) characters; at least \(Self.minimumLength) are required")
            }
            // deploy/gateway-keys.example's placeholders must never become real keys by accident.
            guard !key.hasPrefix(Self.placeholderPrefix) else {
                throw APIKeysError(reason: "the key of \(channel.rawValue) is still the example's placeholder (\(Self.placeholderPrefix)…): replace it")
            }
            let digest = SHA256.digest(Array(key.utf8))
            guard seen.insert(digest).inserted else {
                throw APIKeysError(reason: "the same key is given twice (\(channel.rawValue)); each channel needs its own")
            }
            entries.append(Entry(digest: digest, channel: channel))
        }
        self.entries = entries
    }

    public static let minimumLength = 16
    /// The prefix of the placeholder keys in deploy/gateway-keys.example, refused as keys.
    public static let placeholderPrefix = "replace-me"

    /// Parses `channel=key` items separated by commas, semicolons or new lines (the form of
    /// `CARD_GATEWAY_KEYS` and of a keys file; `#` starts a comment line).
    /// - Throws: ``APIKeysError`` naming the item (never the key) that is not `channel=key` with a
    ///   channel of the contract, or a key that ``init(_:)`` refuses.
    public static func parse(_ text: String) throws -> APIKeys {
        var pairs: [(Channel, String)] = []
        let lines = text.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("#") }
        for (index, item) in lines.flatMap({ $0.split(whereSeparator: { $0 == "," || $0 == ";" }) }).enumerated() {
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw APIKeysError(reason: "item \(index + 1) is not channel=key")
            }
            let name = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            guard let channel = Channel(rawValue: name) else {
                throw APIKeysError(reason: "item \(index + 1) names channel \"\(name)\"; channels are \(Channel.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            pairs.append((channel, trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)))
        }
        return try APIKeys(pairs)
    }

    /// The channel of a presented key, or `nil`; constant time in the key and in which entry matches.
    public func channel(forKey presented: String) -> Channel? {
        let digest = SHA256.digest(Array(presented.utf8))
        var found: Channel?
        for entry in entries {
            var difference: UInt8 = 0
            for i in 0..<32 { difference |= entry.digest[i] ^ digest[i] }
            // Select without branching on secret data more than once per entry; every entry is visited.
            if difference == 0 { found = entry.channel }
        }
        return found
    }

    /// The key a request presents: `Authorization: Bearer <key>` (RFC 6750).
    public static func presentedKey(authorization: String?) -> String? {
        guard let authorization else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let key = parts[1].trimmingCharacters(in: .whitespaces)
        return key.isEmpty ? nil : key
    }
}

/// A key configuration that cannot be used; the reason never quotes a key.
public struct APIKeysError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "API keys: \(reason)" }
}
