/// A claim check for an uploaded file: where it is and what it is, never the bytes.
///
/// `{"uri", "sha256", "bytes", "media_type", "width", "height"}`. The `uri` is a link to a
/// person's document or face and counts as personal data: mask it (``Masking/uri(_:)``)
/// before it reaches a log or a dead letter.
public struct ClaimCheck: Sendable, Hashable, Codable {
    public var uri: String
    /// 64 lower- or upper-case hex digits.
    public var sha256: String
    public var bytes: Int
    public var mediaType: String
    public var width: Int
    public var height: Int

    public init(uri: String, sha256: String, bytes: Int, mediaType: String, width: Int, height: Int) {
        self.uri = uri
        self.sha256 = sha256
        self.bytes = bytes
        self.mediaType = mediaType
        self.width = width
        self.height = height
    }

    enum CodingKeys: String, CodingKey {
        case uri, sha256, bytes
        case mediaType = "media_type"
        case width, height
    }
}

/// The applicant's photo: an uploaded file, or `{"default_photo": true}` asking the bank to
/// print the default picture (allowed only for children under 7).
public enum Attachment: Sendable, Hashable, Codable {
    case claimCheck(ClaimCheck)
    case defaultPhoto

    /// The claim check, or `nil` for the default photo.
    public var claimCheck: ClaimCheck? {
        if case .claimCheck(let value) = self { return value }
        return nil
    }

    enum DefaultPhotoKeys: String, CodingKey {
        case defaultPhoto = "default_photo"
    }

    public init(from decoder: any Decoder) throws {
        let keyed = try decoder.container(keyedBy: DefaultPhotoKeys.self)
        if keyed.contains(.defaultPhoto) {
            guard try keyed.decode(Bool.self, forKey: .defaultPhoto) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .defaultPhoto, in: keyed,
                    debugDescription: "default_photo must be true when present")
            }
            self = .defaultPhoto
        } else {
            self = .claimCheck(try ClaimCheck(from: decoder))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .claimCheck(let value):
            try value.encode(to: encoder)
        case .defaultPhoto:
            var keyed = encoder.container(keyedBy: DefaultPhotoKeys.self)
            try keyed.encode(true, forKey: .defaultPhoto)
        }
    }
}
