import CardDomain
import Foundation
import Hummingbird
import JSONCodec

/// The body of every error the gateway answers: `{"code", "message", "reasons"}`.
///
/// `code` is a contract reason code when one rule explains the refusal (CONSENT_MISSING,
/// SUBMISSION_TOO_LARGE, BANK_UNKNOWN…), `SUBMISSION_REJECTED` when the stateless intake rules found
/// several, or one of the gateway's own codes (docs/contract-additions.md, "Gateway"). `message` is
/// Chinese for the family, `reasons` each broken rule as intake would publish it. Nothing in it quotes
/// personal data: messages name fields, never values.
public struct GatewayError: Error, Sendable, Encodable {
    public var status: HTTPResponse.Status
    public var code: String
    public var message: String
    public var reasons: [Reason]
    /// Extra response headers (`Retry-After`, `WWW-Authenticate`).
    public var headers: HTTPFields = [:]

    enum CodingKeys: String, CodingKey { case code, message, reasons }

    public init(_ status: HTTPResponse.Status, code: String, message: String, reasons: [Reason] = [], headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.message = message
        self.reasons = reasons
        self.headers = headers
    }

    /// One reason, reported as the error itself.
    public init(_ status: HTTPResponse.Status, reason: Reason, headers: HTTPFields = [:]) {
        self.init(status, code: reason.code.rawValue, message: reason.message, reasons: [reason], headers: headers)
    }

    public var response: Response {
        var fields = headers
        fields[.contentType] = JSONResponse.contentType
        fields[.cacheControl] = "no-store"
        let body = (try? CardJSON.encodeBytes(self)) ?? Array("{}".utf8)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }

    // MARK: - The gateway's own codes

    /// No route for this path and method (Hummingbird answers an unmatched route with an empty 404).
    public static func pathNotFound() -> GatewayError {
        GatewayError(.notFound, code: Code.pathNotFound, message: "请求的接口地址不存在，请核对版本和路径（接口说明见 /openapi.json）")
    }

    public static func unauthorized() -> GatewayError {
        GatewayError(.unauthorized, code: Code.unauthorized, message: "缺少或无效的接入密钥（API key），请联系社会保障卡服务管理方",
                     headers: [.wwwAuthenticate: "Bearer realm=\"card-gateway\""])
    }

    public static func rateLimited(retryAfterSeconds: Int) -> GatewayError {
        GatewayError(.tooManyRequests, code: Code.rateLimited, message: "请求过于频繁，请\(retryAfterSeconds)秒后再试",
                     headers: [.retryAfter: "\(retryAfterSeconds)"])
    }

    public static func tooLarge(limit: Int) -> GatewayError {
        var error = GatewayError(.contentTooLarge, reason: Reason(code: .submissionTooLarge, field: nil))
        error.message += "（上限\(limit / 1024)KB）"
        return error
    }

    public static func notFound() -> GatewayError {
        GatewayError(.notFound, code: Code.notFound, message: "未找到该申请，请核对申请编号")
    }

    public static func conflict() -> GatewayError {
        GatewayError(.conflict, code: Code.submissionIDConflict,
                     message: "该申请编号已用于另一份申请内容，请使用新的申请编号")
    }

    public static func loading() -> GatewayError {
        GatewayError(.serviceUnavailable, code: Code.viewsLoading, message: "服务正在加载数据，请稍后再试", headers: [.retryAfter: "1"])
    }

    public static func kafkaUnavailable() -> GatewayError {
        GatewayError(.serviceUnavailable, code: Code.kafkaUnavailable, message: "暂时无法提交申请，请稍后再试", headers: [.retryAfter: "5"])
    }

    public static func badRequest(_ reasons: [Reason], message: String) -> GatewayError {
        GatewayError(.badRequest, code: ReasonCode.schemaInvalid.rawValue, message: message, reasons: reasons)
    }

    /// Codes the gateway adds beside the contract's reason codes (docs/contract-additions.md, "Gateway").
    public enum Code {
        public static let unauthorized = "UNAUTHORIZED"
        public static let rateLimited = "RATE_LIMITED"
        public static let notFound = "APPLICATION_NOT_FOUND"
        public static let submissionIDConflict = "SUBMISSION_ID_CONFLICT"
        public static let submissionRejected = "SUBMISSION_REJECTED"
        public static let channelMismatch = "CHANNEL_MISMATCH"
        public static let viewsLoading = "VIEWS_LOADING"
        public static let kafkaUnavailable = "KAFKA_UNAVAILABLE"
        public static let pathNotFound = "PATH_NOT_FOUND"
        public static let uploadTooLarge = "UPLOAD_TOO_LARGE"
        public static let uploadMediaTypeUnsupported = "UPLOAD_MEDIA_TYPE_UNSUPPORTED"
        public static let uploadDigestMismatch = "UPLOAD_DIGEST_MISMATCH"
        public static let uploadStorageUnavailable = "UPLOAD_STORAGE_UNAVAILABLE"
        public static let attachmentNotUploaded = "ATTACHMENT_NOT_UPLOADED"
    }
}

/// JSON responses with the contract's encoding (compact, sorted keys).
public enum JSONResponse {
    public static let contentType = "application/json; charset=utf-8"

    public static func make(_ status: HTTPResponse.Status = .ok, _ value: some Encodable, headers: HTTPFields = [:]) -> Response {
        var fields = headers
        fields[.contentType] = contentType
        let body = (try? CardJSON.encodeBytes(value)) ?? Array("{}".utf8)
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
