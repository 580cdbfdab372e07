import CardDomain
import Foundation
import Hummingbird
import JSONCodec

/// `PUT /v1/uploads/{sha256}` 201 (new) or 200 (the channel had these bytes): the claim check's fields
/// the server vouches for. The page adds `width` and `height` it measured.
struct UploadBody: Encodable {
    var uri: String
    var sha256: String
    var bytes: Int
    var mediaType: String

    enum CodingKeys: String, CodingKey {
        case uri, sha256, bytes
        case mediaType = "media_type"
    }
}

extension GatewayError {
    static func uploadTooLarge(limit: Int) -> GatewayError {
        let message = "文件过大，上限\(String(format: "%.2f", Double(limit) / 1_048_576))MB"
        return GatewayError(.contentTooLarge, code: Code.uploadTooLarge, message: message,
                            reasons: [Reason(code: .photoSizeOutOfRange, field: "body", message: message)])
    }

    static func uploadMediaType() -> GatewayError {
        GatewayError(.unsupportedMediaType, code: Code.uploadMediaTypeUnsupported,
                     message: "文件格式须为JPEG或PNG图片（Content-Type为image/jpeg或image/png，且与文件内容一致）",
                     reasons: [Reason(code: .photoFormatInvalid, field: "media_type")])
    }

    static func uploadDigestMismatch() -> GatewayError {
        GatewayError(.unprocessableContent, code: Code.uploadDigestMismatch,
                     message: "文件内容与校验值不一致，请重新选择文件上传",
                     reasons: [Reason(code: .schemaInvalid, field: "sha256", message: "文件内容与校验值不一致，请重新选择文件上传")])
    }

    static func attachmentsNotUploaded(_ reasons: [Reason]) -> GatewayError {
        GatewayError(.unprocessableContent, code: Code.attachmentNotUploaded,
                     message: "有\(reasons.count)个文件未上传或与已上传的文件不一致，请重新上传", reasons: reasons)
    }

    static func uploadStorageUnavailable() -> GatewayError {
        GatewayError(.serviceUnavailable, code: Code.uploadStorageUnavailable, message: "暂时无法保存文件，请稍后再试",
                     headers: [.retryAfter: "5"])
    }
}

extension Handlers {
    /// The claim checks of a submission that name this gateway's object storage
    /// (`s3://card-uploads/…`) and do not match an object the key's channel uploaded: another channel's
    /// prefix, a digest other than the attachment's `sha256`, no such object, or another size than `bytes`.
    /// One reason per attachment (field: its `uri`). Links to any other storage are the portal's and pass.
    func unmatchedClaimChecks(_ tree: JSONValue, channel: Channel) -> [Reason] {
        guard let store = configuration.uploads else { return [] }
        var attachments: [(path: String, value: JSONValue)] = []
        for (prefix, node) in [("agent.documents", tree["agent"]?["documents"]), ("documents", tree["documents"])] {
            guard case .object(let slots)? = node else { continue }
            for (slot, value) in slots.sorted(by: { $0.key < $1.key }) { attachments.append(("\(prefix).\(slot)", value)) }
        }
        let prefix = "s3://\(UploadStore.bucket)/"
        var reasons: [Reason] = []
        for (path, value) in attachments {
            guard let uri = value["uri"]?.stringValue, uri.hasPrefix(prefix) else { continue }
            let expected = value["sha256"]?.stringValue.map { UploadStore.uri(channel: channel, sha256: $0.lowercased()) }
            let size = value["bytes"]?.integerValue
            if uri != expected || size == nil
                || store.size(sha256: String(uri.dropFirst(prefix.count + channel.rawValue.count + 1)), channel: channel) != size.map(Int.init) {
                reasons.append(Reason(code: .schemaInvalid, field: "\(path).uri", message: "文件未上传或与已上传的文件不一致，请重新上传"))
            }
        }
        return reasons
    }

    /// Verifies and stores the bytes of one attachment under the key's channel.
    ///
    /// Checked in this order: the digest in the path (64 hex), the media type (JPEG or PNG, named by
    /// `Content-Type` and matching the bytes' signature), the size (`maxUploadBytes`, by
    /// `Content-Length` at once, else while reading), a non-empty body, the SHA-256 of the bytes.
    func upload(_ request: Request, _ context: GatewayContext) async -> Response {
        guard let channel = context.channel else { return GatewayError.unauthorized().response }
        guard let claimed = context.parameters.get("sha256"), Catalogues.isSHA256(claimed) else {
            GatewayMetrics.upload("refused")
            return GatewayError.badRequest([Reason(code: .schemaInvalid, field: "sha256", message: "文件校验值须为64位十六进制SHA-256")],
                                           message: "文件校验值须为64位十六进制SHA-256").response
        }
        let sha256 = claimed.lowercased()
        let mediaType = request.headers[.contentType]?.split(separator: ";").first
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        guard UploadStore.mediaTypes.contains(mediaType) else {
            GatewayMetrics.upload("refused")
            return GatewayError.uploadMediaType().response
        }
        guard let store = configuration.uploads else { return GatewayError.uploadStorageUnavailable().response }
        let bytes: [UInt8]
        switch await body(request, limit: configuration.maxUploadBytes, tooLarge: GatewayError.uploadTooLarge(limit:)) {
        case .success(let value): bytes = value
        case .failure(let error):
            GatewayMetrics.upload("refused")
            return error.response
        }
        guard !bytes.isEmpty else {
            GatewayMetrics.upload("refused")
            return GatewayError.badRequest([Reason(code: .schemaInvalid, field: "body", message: "文件内容为空")], message: "文件内容为空").response
        }
        guard ImageSignature.mediaType(of: bytes) == mediaType else {
            GatewayMetrics.upload("refused")
            return GatewayError.uploadMediaType().response
        }
        guard SHA256.hex(bytes) == sha256 else {
            GatewayMetrics.upload("refused")
            return GatewayError.uploadDigestMismatch().response
        }
        let stored: UploadStore.Stored
        do {
            stored = try store.store(bytes, sha256: sha256, channel: channel)
        } catch {
            context.logger.error("upload not stored", metadata: ["error": "\(Masking.redact("\(error)"))"])
            return GatewayError.uploadStorageUnavailable().response
        }
        GatewayMetrics.upload(stored == .created ? "created" : "existing", bytes: stored == .created ? bytes.count : 0)
        context.logger.info("upload stored", metadata: ["bytes": "\(bytes.count)", "media_type": "\(mediaType)", "new": "\(stored == .created)"])
        return JSONResponse.make(stored == .created ? .created : .ok,
                                 UploadBody(uri: UploadStore.uri(channel: channel, sha256: sha256), sha256: sha256,
                                            bytes: bytes.count, mediaType: mediaType))
    }
}

/// The media type a file's first bytes announce (PNG's 8-byte signature, JPEG's SOI marker), else `nil`.
enum ImageSignature {
    static func mediaType(of bytes: [UInt8]) -> String? {
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return "image/png" }
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "image/jpeg" }
        return nil
    }
}
