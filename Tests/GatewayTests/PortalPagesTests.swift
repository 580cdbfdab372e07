import CardDomain
import FleetSupport
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JSONCodec
import Synchronization
import Testing

/// A gateway with the reference pages on, over in-memory views.
func pagesGateway(sessions: PageSessions = PageSessions()) async throws -> GatewayUnderTest {
    var gateway = GatewayUnderTest()
    gateway.configuration.pages = (try await PortalPages.load(), sessions)
    return gateway
}

extension TestResponse {
    /// The value of the `Set-Cookie` named `name`, and the whole header.
    func cookie(_ name: String) -> (value: String, header: String)? {
        for header in headers[values: .setCookie] where header.hasPrefix("\(name)=") {
            let value = header.dropFirst(name.count + 1).prefix { $0 != ";" }
            return (String(value), header)
        }
        return nil
    }
}

extension TestClientProtocol {
    /// A call as a page makes it: no key, the session cookie and `X-Card-Portal`.
    func pageCall(_ method: HTTPRequest.Method, _ uri: String, channel: String?, cookie: String?, body: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let channel { headers[HTTPField.Name(PageSessions.header)!] = channel }
        if let cookie { headers[.cookie] = cookie }
        if body != nil { headers[.contentType] = "application/json" }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }
}

@Suite("The reference portal pages and their sessions")
struct PortalPagesTests {
    @Test("each channel's page renders its flow's labels from the templates, with the catalogues, the document rules and the 30-day period")
    func pagesRender() async throws {
        let gateway = try await pagesGateway()
        try await gateway.test { client in
            let index = try await client.call(.get, "/", key: nil)
            #expect(index.status == .ok)
            for channel in ["hrss_web", "jingtong", "minsheng"] { #expect(index.text.contains("/portal/\(channel)")) }

            let web = try await client.call(.get, "/portal/hrss_web", key: nil)
            #expect(web.status == .ok)
            #expect(web.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(web.headers[.contentSecurityPolicy]?.contains("default-src 'self'") == true)
            for label in ["免责声明", "我同意", "代办人信息", "代办人与申请人关系", "社会保障卡申请基本信息", "发卡行名称", "办卡网点",
                          "申请选择的网点默认为开户网点", "我已阅读并同意《第三代社会保障卡申领承诺》", "制卡周期为“30个自然日。”",
                          "<option value=\"BOB\">北京银行</option>", "<option value=\"110105\">朝阳区</option>", "提交"] {
                #expect(web.text.contains(label), "hrss_web page lacks \(label)")
            }
            let jingtong = try await client.call(.get, "/portal/jingtong", key: nil)
            for label in ["确定申领", "开始资格校验", "访问授权", "申领人姓名", "公民身份证正面", "下一步", "大小为20KB-8.75M以内 尺寸为358*441"] {
                #expect(jingtong.text.contains(label), "jingtong page lacks \(label)")
            }
            let minsheng = try await client.call(.get, "/portal/minsheng", key: nil)
            for label in ["我已阅读并同意免责声明", "身份识别", "基本信息", "制卡信息", "领卡方式", "代办情形", "确定，下一步",
                          "未满16周岁可选择户口簿或居民身份证", "社会保障功能", "就医结算功能", "96066", "代办人网点领取", "确认提交"] {
                #expect(minsheng.text.contains(label), "minsheng page lacks \(label)")
            }
            // The document rules the page shows rows by are DocumentRules', rendered by the server.
            let rules = try #require(web.text.components(separatedBy: "<script type=\"application/json\" id=\"document-rules\">").last?
                .components(separatedBy: "</script>").first)
            let tree = try #require(JSONValue(parsing: Array(rules.utf8)))
            #expect(tree["resident_id"] == .array(DocumentRules.requiredSlots(idType: .residentID, agentIsHouseholder: nil, sameBooklet: nil).map { .string($0.rawValue) }))
            #expect(tree["household_register"]?["true,false"] == .array(DocumentRules.requiredSlots(
                idType: .householdRegister, agentIsHouseholder: true, sameBooklet: false).map { .string($0.rawValue) }))

            let script = try await client.call(.get, "/portal/assets/portal.js", key: nil)
            #expect(script.status == .ok)
            #expect(script.headers[.contentType]?.hasPrefix("text/javascript") == true)
            #expect(script.text.contains("crypto.subtle.digest('SHA-256'"))
            #expect(try await client.call(.get, "/portal/assets/nothing.js", key: nil).json?["code"] == "PATH_NOT_FOUND")
            #expect(try await client.call(.get, "/portal/other_channel", key: nil).status == .notFound)
            let status = try await client.call(.get, "/portal/jingtong/applications/jt-20261125-0001", key: nil)
            #expect(status.status == .ok)
            #expect(status.text.contains("jt-20261125-0001"))
            #expect(try await client.call(.get, "/portal/jingtong/applications/bad%20id", key: nil).status == .notFound)
            // No key of any channel is ever in a page.
            for page in [index, web, jingtong, minsheng, status] {
                for key in [TestKeys.web, TestKeys.jingtong, TestKeys.minsheng] { #expect(!page.text.contains(key)) }
            }
        }
    }

    @Test("a page load opens an HttpOnly SameSite=Strict session of its channel; /v1/ takes it only with X-Card-Portal naming that channel")
    func sessions() async throws {
        let gateway = try await pagesGateway()
        let family = TestFamily(serial: 61)
        gateway.add(family)
        try await gateway.test { client in
            let page = try await client.call(.get, "/portal/minsheng", key: nil)
            let cookie = try #require(page.cookie("card_portal_minsheng"))
            #expect(cookie.value.count == 64)
            #expect(cookie.header.contains("HttpOnly"))
            #expect(cookie.header.lowercased().contains("samesite=strict"))
            let jar = "card_portal_minsheng=\(cookie.value)"

            let answer = try await client.pageCall(.post, "/v1/eligibility", channel: "minsheng", cookie: jar, body: family.eligibilityBody())
            #expect(answer.status == .ok)
            #expect(answer.json?["relationship"]?["label"] == "母子")
            // The cookie alone (a cross-site form could send it) is not enough.
            #expect(try await client.pageCall(.post, "/v1/eligibility", channel: nil, cookie: jar, body: family.eligibilityBody()).status == .unauthorized)
            // The session is minsheng's: it does not act for another channel.
            #expect(try await client.pageCall(.get, "/v1/catalogues", channel: "hrss_web", cookie: "card_portal_hrss_web=\(cookie.value)").status == .unauthorized)
            #expect(try await client.pageCall(.get, "/v1/catalogues", channel: "minsheng", cookie: "card_portal_minsheng=\(String(repeating: "0", count: 64))").status == .unauthorized)
            #expect(try await client.pageCall(.get, "/v1/catalogues", channel: "nobody", cookie: jar).status == .unauthorized)

            // A submission on the session is the session's channel's.
            let accepted = try await client.pageCall(.post, "/v1/submissions", channel: "minsheng", cookie: jar, body: family.submission(id: "mins-page-1"))
            #expect(accepted.status == .accepted)
            #expect(try await client.call(.get, "/v1/applications/mins-page-1", key: TestKeys.minsheng).status == .ok)
            #expect(try await client.call(.get, "/v1/applications/mins-page-1", key: TestKeys.web).status == .notFound)

            // Loading the page again keeps the live session.
            let again = try await client.execute(uri: "/portal/minsheng", method: .get, headers: [.cookie: jar], body: nil)
            #expect(again.cookie("card_portal_minsheng")?.value == cookie.value)
        }
        #expect(gateway.publisher.published.withLock { $0.first.flatMap { JSONValue(parsing: $0.value)?["channel"] } } == "minsheng")
    }

    @Test("without --pages there are no pages and no sessions: a session cookie is refused like no key")
    func pagesOff() async throws {
        let sessions = PageSessions()
        let token = sessions.open(.hrssWeb, reusing: nil)
        try await GatewayUnderTest().test { (client: any TestClientProtocol) async throws in
            #expect(try await client.call(.get, "/portal/hrss_web", key: nil).json?["code"] == "PATH_NOT_FOUND")
            #expect(try await client.call(.get, "/", key: nil).status == .notFound)
            #expect(try await client.pageCall(.get, "/v1/catalogues", channel: "hrss_web", cookie: "card_portal_hrss_web=\(token)").status == .unauthorized)
        }
    }

    @Test("sessions expire after their lifetime, the oldest goes when full, and a renewal keeps the token")
    func sessionLifetime() {
        let clock = Mutex(ContinuousClock.now)
        let sessions = PageSessions(lifetime: .seconds(60), capacity: 2, now: { clock.withLock { $0 } })
        let first = sessions.open(.jingtong, reusing: nil)
        #expect(sessions.channel(claimed: .jingtong, token: first) == .jingtong)
        #expect(sessions.channel(claimed: .minsheng, token: first) == nil)
        #expect(sessions.open(.jingtong, reusing: first) == first)
        #expect(sessions.open(.minsheng, reusing: first) != first)
        clock.withLock { $0 += .seconds(61) }
        #expect(sessions.channel(claimed: .jingtong, token: first) == nil)
        let a = sessions.open(.hrssWeb, reusing: nil)
        clock.withLock { $0 += .seconds(1) }
        let b = sessions.open(.hrssWeb, reusing: nil)
        let c = sessions.open(.hrssWeb, reusing: nil)
        #expect(sessions.channel(claimed: .hrssWeb, token: a) == nil)
        #expect(sessions.channel(claimed: .hrssWeb, token: b) == .hrssWeb)
        #expect(sessions.channel(claimed: .hrssWeb, token: c) == .hrssWeb)
    }

    @Test("the gateway refuses --pages on an address other than loopback")
    func pagesOnlyOnLoopback() throws {
        let process = Process()
        process.executableURL = BuildProducts.executable("gateway")
        process.arguments = ["--pages", "--host", "0.0.0.0", "--port", "0", "--brokers", "127.0.0.1:1",
                             "--keys", "hrss_web=\(TestKeys.web)"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(text.contains("loopback"), "\(text)")
    }
}
