import CardDomain
import Foundation

/// A local folder standing in for object storage: the bytes behind a submission's claim checks.
///
/// An object is stored at `<directory>/<channel>/<sha256>` and named in a claim check as
/// ``uri(channel:sha256:)`` = `s3://card-uploads/<channel>/<sha256>`: the bucket and key it would have in
/// object storage, which the folder mirrors (bucket = the folder, key = channel/sha256). Content-addressed,
/// so storing the same bytes twice is one object; a channel's objects are its own (a portal's key
/// writes under its channel only). Written to a temporary file and renamed, so a reader never sees a
/// partial object.
public struct UploadStore: Sendable {
    public let directory: URL
    public static let bucket = "card-uploads"
    /// Media types accepted: the contract's photo formats; documents are photographs of papers too.
    public static let mediaTypes: Set<String> = DocumentRules.photoMediaTypes

    public init(directory: URL) { self.directory = directory }

    /// The claim check's `uri` of an object.
    public static func uri(channel: Channel, sha256: String) -> String { "s3://\(bucket)/\(channel.rawValue)/\(sha256)" }

    /// What storing did.
    public enum Stored: Sendable, Equatable {
        case created
        /// The channel already had these bytes.
        case existing
    }

    /// Stores `bytes` as `sha256` of `channel`; the caller has checked the digest.
    /// - Throws: the file system's error (a full disk, no permission).
    public func store(_ bytes: [UInt8], sha256: String, channel: Channel) throws -> Stored {
        let folder = directory.appendingPathComponent(channel.rawValue, isDirectory: true)
        let target = folder.appendingPathComponent(sha256)
        let manager = FileManager.default
        if manager.fileExists(atPath: target.path) { return .existing }
        try manager.createDirectory(at: folder, withIntermediateDirectories: true)
        let temporary = folder.appendingPathComponent(".\(sha256).\(UUID().uuidString).part")
        try Data(bytes).write(to: temporary)
        do {
            try manager.moveItem(at: temporary, to: target)
        } catch {
            try? manager.removeItem(at: temporary)
            // Another request stored the same bytes first: the same object.
            if manager.fileExists(atPath: target.path) { return .existing }
            throw error
        }
        return .created
    }

    /// The size in bytes of `channel`'s object `sha256`, or `nil` when there is none (or the name is no digest).
    public func size(sha256: String, channel: Channel) -> Int? {
        guard Catalogues.isSHA256(sha256), sha256 == sha256.lowercased() else { return nil }
        let path = directory.appendingPathComponent(channel.rawValue).appendingPathComponent(sha256).path
        return (try? FileManager.default.attributesOfItem(atPath: path))?[.size].flatMap { ($0 as? NSNumber)?.intValue }
    }
}
