import CardDomain
import Foundation
import Hummingbird
import JSONCodec
import Logging

/// The gateway's HTTP surface (the OpenAPI document in `Resources/openapi.json` describes it):
///
/// - `POST /v1/eligibility`: 资格校验 (``EligibilityRules``);
/// - `POST /v1/submissions`: stateless intake rules, then `card.submission`; idempotent by `submission_id`;
/// - `GET /v1/applications/{application_id}`: status history, ETag, long poll with `?wait=`;
/// - `GET /v1/catalogues`, `GET /v1/branches?bank=&district=`;
/// - `PUT /v1/uploads/{sha256}`: the bytes behind a claim check (``UploadStore``);
/// - `GET /openapi.json`, `/healthz`, `/readyz`, `/metrics` without a key; the reference pages with `--pages`
///   (``PortalPages``).
public enum GatewayRoutes {
    /// The routes, separate from the listener so tests can drive them in memory.
    /// - Parameter now: the clock the rules see (Beijing day for ages).
    public static func router(configuration: GatewayConfiguration, views: GatewayViews, publisher: any SubmissionPublisher,
                              limiter: RateLimiter? = nil,
                              now: @escaping @Sendable () -> Date = { Date() }) -> Router<GatewayContext> {
        let router = Router(context: GatewayContext.self)
        // Outermost, so refusals (401, 429, 404) are counted too; labels are route templates, not paths.
        if configuration.metrics != nil { router.add(middleware: MetricsMiddleware()) }
        router.add(middleware: UnmatchedRouteAsJSON())
        router.add(middleware: PortalAccess(
            keys: configuration.keys,
            limiter: limiter ?? RateLimiter(rate: configuration.requestsPerSecond, burst: configuration.burst),
            sessions: configuration.pages?.sessions))
        let handlers = Handlers(configuration: configuration, views: views, publisher: publisher, now: now)

        router.post("/v1/eligibility") { request, context in await handlers.eligibility(request, context) }
        router.post("/v1/submissions") { request, context in await handlers.submission(request, context) }
        router.get("/v1/applications/:application_id") { request, context in await handlers.application(request, context) }
        router.get("/v1/catalogues") { _, _ in JSONResponse.make(.ok, CataloguesBody.current) }
        router.get("/v1/branches") { request, _ in handlers.branches(request) }
        router.put("/v1/uploads/:sha256") { request, context in await handlers.upload(request, context) }
        if let pages = configuration.pages { pages.templates.register(on: router, sessions: pages.sessions) }
        if let registry = configuration.metrics {
            router.get("/metrics") { _, _ in
                GatewayMetrics.views(loaded: views.isLoaded, counts: views.counts)
                var buffer: [UInt8] = []
                registry.emit(into: &buffer)
                return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                                body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
            }
        }

        let document = OpenAPIDocument.bytes
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: JSONResponse.contentType], body: .init(byteBuffer: ByteBuffer(bytes: document)))
        }
        router.get("/healthz") { _, _ in JSONResponse.make(.ok, Health(status: "alive", views: nil)) }
        router.get("/readyz") { _, _ in
            let loaded = views.isLoaded
            return JSONResponse.make(loaded ? .ok : .serviceUnavailable, Health(status: loaded ? "ready" : "loading", views: views.counts))
        }
        return router
    }
}

/// The OpenAPI 3.1 document, read once from the module's resources.
public enum OpenAPIDocument {
    public static let bytes: [UInt8] = {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "json"),
              let data = try? Data(contentsOf: url) else { return Array("{}".utf8) }
        return Array(data)
    }()
}

// MARK: - Handlers

struct Handlers: Sendable {
    let configuration: GatewayConfiguration
    let views: GatewayViews
    let publisher: any SubmissionPublisher
    let now: @Sendable () -> Date

    var today: CivilDate { Timestamp(now()).shanghaiDate }

    /// The body, or 413 when over the limit (by `Content-Length` at once, else while reading).
    func body(_ request: Request) async -> Result<[UInt8], GatewayError> {
        await body(request, limit: configuration.maxBodyBytes, tooLarge: GatewayError.tooLarge(limit:))
    }

    /// The body up to `limit` bytes, else `tooLarge(limit)`.
    func body(_ request: Request, limit: Int, tooLarge: (Int) -> GatewayError) async -> Result<[UInt8], GatewayError> {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit { return .failure(tooLarge(limit)) }
        do {
            let buffer = try await request.body.collect(upTo: limit)
            return .success(Array(buffer.readableBytesView))
        } catch {
            return .failure(tooLarge(limit))
        }
    }

    // MARK: 资格校验

    func eligibility(_ request: Request, _ context: GatewayContext) async -> Response {
        let bytes: [UInt8]
        switch await body(request) {
        case .success(let value): bytes = value
        case .failure(let error): return error.response
        }
        guard let tree = JSONValue(parsing: bytes), case .object = tree else {
            return GatewayError.badRequest([Reason(code: .schemaInvalid, field: nil)], message: "请求内容不是有效的JSON对象").response
        }
        // 访问授权 first: without it the registry is not consulted at all.
        guard tree["consents"]?["data_authorization"] == .bool(true) else {
            return GatewayError(.unprocessableContent, reason: Reason(code: .consentMissing, field: "consents.data_authorization")).response
        }
        var invalid: [Reason] = []
        func text(_ path: [String]) -> String? {
            var node: JSONValue? = tree
            for key in path { node = node?[key] }
            guard let value = node?.stringValue, !value.isEmpty else {
                invalid.append(Reason(code: .schemaInvalid, field: path.joined(separator: ".")))
                return nil
            }
            return value
        }
        let name = text(["applicant", "name"])
        let idTypeText = text(["applicant", "id_type"])
        let idType = idTypeText.flatMap(IDType.init(rawValue:))
        if idTypeText != nil && idType == nil { invalid.append(Reason(code: .schemaInvalid, field: "applicant.id_type")) }
        let applicantNumber = text(["applicant", "id_number"])
        let agentNumber = text(["agent", "id_number"])
        guard let name, let idType, let applicantNumber, let agentNumber else {
            return GatewayError(.unprocessableContent, code: ReasonCode.schemaInvalid.rawValue, message: "请求内容不完整或格式不正确",
                                reasons: invalid).response
        }
        guard views.isLoaded else { return GatewayError.loading().response }

        let question = EligibilityRules.Question(
            applicantName: name, applicantIDType: idType,
            // As typed: intake takes no lower-case `x` either, so 资格校验 must not.
            applicantIDNumber: applicantNumber, agentIDNumber: agentNumber)
        let answer = EligibilityRules.check(
            question, applicant: views.person(question.applicantIDNumber), agent: views.person(question.agentIDNumber),
            hasActiveApplication: !views.activeApplications(of: question.applicantIDNumber).isEmpty, today: today)
        context.logger.info("eligibility answered", metadata: [
            "applicant": "\(Masking.idNumber(question.applicantIDNumber))", "eligible": "\(answer.eligible)",
            "reasons": "\(answer.reasons.map(\.code.rawValue).joined(separator: ","))"])
        return JSONResponse.make(.ok, EligibilityBody(answer))
    }

    // MARK: Submissions

    func submission(_ request: Request, _ context: GatewayContext) async -> Response {
        guard let channel = context.channel else { return GatewayError.unauthorized().response }
        let bytes: [UInt8]
        switch await body(request) {
        case .success(let value): bytes = value
        case .failure(let error): return error.response
        }
        guard let tree = JSONValue(parsing: bytes), case .object(var top) = tree else {
            return GatewayError.badRequest([Reason(code: .schemaInvalid, field: nil)], message: "提交内容不是有效的JSON对象").response
        }
        // The key decides the channel: filled in when absent, refused when it names another.
        if let stated = top["channel"] {
            guard stated == .string(channel.rawValue) else {
                return GatewayError(.forbidden, code: GatewayError.Code.channelMismatch,
                                    message: "申请渠道与接入密钥所属渠道不一致",
                                    reasons: [Reason(code: .schemaInvalid, field: "channel", message: "申请渠道与接入密钥所属渠道不一致")]).response
            }
        } else {
            top["channel"] = .string(channel.rawValue)
        }
        let canonical = SubmissionBody.canonical(.object(top))
        guard case .parsed(let parsed) = IntakeValidator.validate(canonical) else {
            return GatewayError.badRequest([Reason(code: .schemaInvalid, field: "submission_id")],
                                           message: "申请编号缺失或格式不正确（须为1至64位字母、数字、下划线或连字符）").response
        }
        guard views.isLoaded else { return GatewayError.loading().response }
        let digest = SHA256.hex(canonical)
        let id = parsed.submissionID
        if let existing = views.application(id) {
            guard existing.digest == digest else { return GatewayError.conflict().response }
            return accepted(id)
        }
        guard let submission = parsed.accepted else {
            let count = parsed.reasons.count
            context.logger.info("submission refused by the intake rules", metadata: [
                "submission_id": "\(id)", "reasons": "\(parsed.reasons.map(\.code.rawValue).joined(separator: ","))"])
            return GatewayError(.unprocessableContent,
                                code: count == 1 ? parsed.reasons[0].code.rawValue : GatewayError.Code.submissionRejected,
                                message: count == 1 ? parsed.reasons[0].message : "申请有\(count)项不符合要求，请逐项修改后重新提交",
                                reasons: parsed.reasons).response
        }
        // Claim checks naming this gateway's uploads must name what the channel uploaded (the bytes are there).
        let unmatched = unmatchedClaimChecks(.object(top), channel: channel)
        guard unmatched.isEmpty else { return GatewayError.attachmentsNotUploaded(unmatched).response }
        let application = GatewayViews.Application(
            applicationID: id, applicantIDNumber: submission.applicant.idNumber, channel: channel, digest: digest)
        switch views.claim(application) {
        case .conflict: return GatewayError.conflict().response
        case .same: return accepted(id)
        case .new: break
        }
        do {
            try await publisher.publish(key: Array(submission.applicant.idNumber.utf8), value: canonical)
        } catch {
            views.release(application)
            context.logger.error("submission not published", metadata: [
                "submission_id": "\(id)", "error": "\(Masking.redact("\(error)"))"])
            return GatewayError.kafkaUnavailable().response
        }
        context.logger.info("submission published", metadata: [
            "submission_id": "\(id)", "applicant": "\(Masking.idNumber(submission.applicant.idNumber))"])
        return accepted(id)
    }

    private func accepted(_ id: String) -> Response {
        let url = "/v1/applications/\(id)"
        return JSONResponse.make(.accepted, SubmissionAcceptedBody(applicationID: id, statusURL: url), headers: [.location: url])
    }

    // MARK: Applications

    func application(_ request: Request, _ context: GatewayContext) async -> Response {
        guard let id = context.parameters.get("application_id"), Catalogues.isSubmissionID(id) else {
            return GatewayError.badRequest([Reason(code: .schemaInvalid, field: "application_id")], message: "申请编号格式不正确").response
        }
        var wait = 0
        if let text = request.uri.queryParameters.get("wait") {
            guard let seconds = Int(text), seconds >= 0, seconds <= Int(configuration.maxWait.components.seconds) else {
                return GatewayError.badRequest([Reason(code: .schemaInvalid, field: "wait", message: "等待时间须为0至\(configuration.maxWait.components.seconds)秒")],
                                               message: "等待时间须为0至\(configuration.maxWait.components.seconds)秒").response
            }
            wait = seconds
        }
        guard views.isLoaded else { return GatewayError.loading().response }
        // Another channel's application is answered exactly like one that does not exist.
        guard let application = views.application(id), application.channel == context.channel else {
            return GatewayError.notFound().response
        }
        let known = request.headers[.ifNoneMatch].map(Self.entityTags) ?? []
        var statuses = views.statuses(id)
        if wait > 0, known.contains(Self.entityTag(statuses)) {
            // Long poll: woken by the next status applied to the view, or 304 when the wait ends.
            await views.waitForStatuses(of: id, moreThan: statuses.count, timeout: .seconds(wait))
            statuses = views.statuses(id)
        }
        let tag = Self.entityTag(statuses)
        if known.contains(tag) || known.contains("*") {
            return Response(status: .notModified, headers: [.eTag: tag, .cacheControl: "no-cache"])
        }
        return JSONResponse.make(.ok, ApplicationBody(
            applicationID: id, channel: application.channel?.rawValue ?? "", status: statuses.last?.status.rawValue ?? "submitted",
            statuses: statuses), headers: [.eTag: tag, .cacheControl: "no-cache"])
    }

    /// A strong tag that changes with every status: the highest `seq` and how many statuses there are.
    static func entityTag(_ statuses: [StatusEvent]) -> String { "\"\(statuses.last?.seq ?? 0)-\(statuses.count)\"" }

    /// The tags of an `If-None-Match` header, weak ones compared as strong (RFC 9110 13.1.2: weak comparison).
    static func entityTags(_ header: String) -> [String] {
        header.split(separator: ",").map { tag in
            let trimmed = tag.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("W/") ? String(trimmed.dropFirst(2)) : trimmed
        }
    }

    // MARK: Branches

    func branches(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        guard let bank = query.get("bank"), !bank.isEmpty else {
            return GatewayError.badRequest([Reason(code: .schemaInvalid, field: "bank")], message: "请选择发卡银行").response
        }
        guard Bank(rawValue: bank) != nil else {
            return GatewayError(.unprocessableContent, reason: Reason(code: .bankUnknown, field: "bank")).response
        }
        let district = query.get("district").flatMap { $0.isEmpty ? nil : $0 }
        if let district, !Catalogues.isBeijingDistrict(district) {
            return GatewayError(.unprocessableContent, reason: Reason(code: .districtInvalid, field: "district")).response
        }
        guard views.isLoaded else { return GatewayError.loading().response }
        return JSONResponse.make(.ok, BranchesBody(branches: views.branches(bank: bank, district: district).map(BranchesBody.Item.init)))
    }
}
