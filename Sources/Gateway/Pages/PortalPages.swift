import CardDomain
import Foundation
import HTTPTypes
import Hummingbird
import JSONCodec
import Mustache

/// The reference portal pages: one flow per channel as the HRSS user guide shows it, in Chinese.
///
/// The pages are Mustache templates in `Resources/Pages/*.mustache` (HTML, editable as HTML), rendered
/// with swift-mustache; `Resources/Pages/assets/` holds their plain JavaScript and CSS (no build step,
/// nothing loaded from the network). The server fills in only what it knows without personal data: the
/// channel, the closed catalogues (banks, districts, ethnicities, occupations), the documents each ID type
/// and household answer requires (``DocumentRules``, so the page and intake agree), the production period.
/// Everything personal is typed in the browser and sent to `/v1/` on a page session (``PageSessions``).
///
/// Routes (only on a gateway started with `--pages`):
/// - `GET /`: the three channels;
/// - `GET /portal/{channel}`: the channel's flow (`hrss_web`, `jingtong`, `minsheng`), opening a session;
/// - `GET /portal/{channel}/applications/{application_id}`: the status page (long poll);
/// - `GET /portal/assets/{name}`: `portal.js` (shared), `<channel>.js` (each flow's steps), `status.js`, `portal.css`.
public struct PortalPages: Sendable {
    let library: MustacheLibrary
    let assets: [String: (contentType: String, bytes: [UInt8])]

    /// Loads the templates and assets from the module's resources.
    /// - Throws: ``PortalPagesError`` when the resources are missing or a template does not parse.
    public static func load() async throws -> PortalPages {
        guard let folder = Bundle.module.url(forResource: "Pages", withExtension: nil) else {
            throw PortalPagesError(reason: "the Pages resource folder is missing from the Gateway module")
        }
        let library: MustacheLibrary
        do {
            library = try await MustacheLibrary(directory: folder.path)
        } catch {
            throw PortalPagesError(reason: "a page template does not parse: \(error)")
        }
        for name in ["index", "hrss_web", "jingtong", "minsheng", "status"] where library.getTemplate(named: name) == nil {
            throw PortalPagesError(reason: "the page template \(name).mustache is missing")
        }
        var assets: [String: (String, [UInt8])] = [:]
        let assetFolder = folder.appendingPathComponent("assets")
        let script = "text/javascript; charset=utf-8"
        for (name, type) in [("portal.js", script), ("hrss_web.js", script), ("jingtong.js", script), ("minsheng.js", script),
                             ("status.js", script), ("portal.css", "text/css; charset=utf-8")] {
            guard let data = try? Data(contentsOf: assetFolder.appendingPathComponent(name)) else {
                throw PortalPagesError(reason: "the page asset \(name) is missing")
            }
            assets[name] = (type, Array(data))
        }
        return PortalPages(library: library, assets: assets)
    }

    /// Adds the page routes; every page load opens (or renews) the channel's session cookie.
    func register(on router: Router<GatewayContext>, sessions: PageSessions) {
        router.get("/") { _, _ in html(render("index", context: Self.indexContext)) }
        router.get("/portal/assets/:name") { _, context in
            guard let name = context.parameters.get("name"), let asset = assets[name] else { return GatewayError.pathNotFound().response }
            return Response(status: .ok, headers: [.contentType: asset.contentType, .cacheControl: "no-cache"],
                            body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
        }
        router.get("/portal/:channel") { request, context in
            guard let channel = context.parameters.get("channel").flatMap(Channel.init(rawValue:)) else { return GatewayError.pathNotFound().response }
            return withSession(html(render(channel.rawValue, context: Self.pageContext(channel))), channel: channel, request: request, sessions: sessions)
        }
        router.get("/portal/:channel/applications/:application_id") { request, context in
            guard let channel = context.parameters.get("channel").flatMap(Channel.init(rawValue:)),
                  let id = context.parameters.get("application_id"), Catalogues.isSubmissionID(id) else {
                return GatewayError.pathNotFound().response
            }
            var page = Self.pageContext(channel)
            page["applicationID"] = id
            return withSession(html(render("status", context: page)), channel: channel, request: request, sessions: sessions)
        }
    }

    func render(_ template: String, context: [String: Any]) -> String {
        library.render(context, withTemplate: template) ?? ""
    }

    private func html(_ text: String) -> Response {
        Response(status: .ok, headers: [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
            // Nothing from anywhere else: scripts, styles, images and calls are the gateway's own.
            .contentSecurityPolicy: "default-src 'self'; img-src 'self' blob: data:; frame-ancestors 'none'; form-action 'none'",
            HTTPField.Name("Referrer-Policy")!: "no-referrer",
        ], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private func withSession(_ response: Response, channel: Channel, request: Request, sessions: PageSessions) -> Response {
        var response = response
        let name = PageSessions.cookieName(channel)
        let token = sessions.open(channel, reusing: request.cookies[name]?.value)
        response.setCookie(Cookie(name: name, value: token, maxAge: Int(sessions.lifetime.components.seconds), path: "/",
                                  httpOnly: true, sameSite: .strict))
        return response
    }

    // MARK: - What the templates see

    static let channelNames: [Channel: String] = [
        .hrssWeb: "北京市人力资源和社会保障局网上服务大厅", .jingtong: "京通", .minsheng: "北京民生一卡通",
    ]

    static var indexContext: [String: Any] {
        ["channels": Channel.allCases.map { ["code": $0.rawValue, "name": channelNames[$0] ?? $0.rawValue] }]
    }

    static func pageContext(_ channel: Channel) -> [String: Any] {
        let catalogues = CataloguesBody.current
        func options(_ items: [CataloguesBody.CodeName]) -> [[String: String]] { items.map { ["code": $0.code, "name": $0.name] } }
        return [
            "channel": channel.rawValue,
            "title": "18周岁以下代办申请社会保障卡",
            "channelName": channelNames[channel] ?? channel.rawValue,
            // 京通 and 民生一卡通 are mini programs: their pages are laid out for a phone.
            "mobile": channel != .hrssWeb,
            "sessionHeader": PageSessions.header,
            "productionDays": EligibilityRules.productionDays,
            "banks": options(catalogues.banks),
            "districts": options(catalogues.districts),
            "ethnicities": options(catalogues.ethnicities),
            "occupations": options(catalogues.occupations),
            "documentRules": documentRulesJSON,
            "photoMinBytes": DocumentRules.photoBytes.lowerBound, "photoMaxBytes": DocumentRules.photoBytes.upperBound,
            "photoWidth": DocumentRules.photoWidth, "photoHeight": DocumentRules.photoHeight,
        ]
    }

    /// The documents of the applicant each ID type and pair of household answers requires, as the page
    /// reads them: `{"resident_id": [...], "household_register": {"true,true": [...], ...}}`, from
    /// ``DocumentRules/requiredSlots(idType:agentIsHouseholder:sameBooklet:)``. No `<` can occur in it
    /// (slot names), so it is safe inside a `<script type="application/json">`.
    static let documentRulesJSON: String = {
        var household: [String: JSONValue] = [:]
        for householder in [true, false] {
            for same in [true, false] {
                let slots = DocumentRules.requiredSlots(idType: .householdRegister, agentIsHouseholder: householder, sameBooklet: same)
                household["\(householder),\(same)"] = .array(slots.map { .string($0.rawValue) })
            }
        }
        let resident = DocumentRules.requiredSlots(idType: .residentID, agentIsHouseholder: nil, sameBooklet: nil)
        let tree = JSONValue.object(["resident_id": .array(resident.map { .string($0.rawValue) }), "household_register": .object(household)])
        return String(decoding: (try? CardJSON.encodeBytes(tree)) ?? Array("{}".utf8), as: UTF8.self)
    }()
}

/// The pages cannot be served: resources missing or a template broken.
public struct PortalPagesError: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "portal pages: \(reason)" }
}
