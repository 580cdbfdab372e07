import CardDomain
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import Synchronization
import Testing

@Suite("Gateway access: API keys, rate limits, body limit, open paths")
struct AccessTests {
    @Test("no key, a wrong key or a non-Bearer scheme is 401 with a JSON error and a challenge")
    func unauthorized() async throws {
        let gateway = GatewayUnderTest()
        try await gateway.test { client in
            for key in [nil, "wrong-key-but-long-enough", TestKeys.web + "x"] as [String?] {
                let response = try await client.call(.get, "/v1/catalogues", key: key)
                #expect(response.status == .unauthorized)
                #expect(response.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
                #expect(response.json?["code"] == "UNAUTHORIZED")
                #expect(response.json?["message"]?.stringValue?.contains("密钥") == true)
            }
            let basic = try await client.execute(uri: "/v1/catalogues", method: .get,
                                                 headers: [.authorization: "Basic " + Data("x:\(TestKeys.web)".utf8).base64EncodedString()])
            #expect(basic.status == .unauthorized)
            #expect(try await client.call(.get, "/v1/catalogues", key: TestKeys.jingtong).status == .ok)
        }
    }

    @Test("an unknown path or version is a JSON 404 PATH_NOT_FOUND, with or without a key (was an empty body)")
    func unknownPaths() async throws {
        let gateway = GatewayUnderTest()
        try await gateway.test { client in
            for (path, key) in [("/v2/applications/x", nil), ("/v1/nothing-here", TestKeys.web), ("/", nil)] as [(String, String?)] {
                let response = try await client.call(.get, path, key: key)
                #expect(response.status == .notFound, "\(path)")
                #expect(response.json?["code"] == "PATH_NOT_FOUND", "\(path)")
                #expect(response.json?["message"]?.stringValue?.contains("/openapi.json") == true, "\(path)")
            }
            // A known application path that finds nothing keeps its own code.
            let missing = try await client.call(.get, "/v1/applications/web-unknown-1", key: TestKeys.web)
            #expect(missing.json?["code"] == "APPLICATION_NOT_FOUND")
        }
    }

    @Test("keys: parsed from channel=key items, each key to its channel; short, repeated or unknown-channel keys refused without quoting the key")
    func keyParsing() throws {
        let keys = try APIKeys.parse("""
            # demo keys
            hrss_web=aaaaaaaaaaaaaaaaaaaa, jingtong = bbbbbbbbbbbbbbbbbbbb
            minsheng=cccccccccccccccccccc
            """)
        #expect(keys.channel(forKey: "aaaaaaaaaaaaaaaaaaaa") == .hrssWeb)
        #expect(keys.channel(forKey: "bbbbbbbbbbbbbbbbbbbb") == .jingtong)
        #expect(keys.channel(forKey: "cccccccccccccccccccc") == .minsheng)
        #expect(keys.channel(forKey: "aaaaaaaaaaaaaaaaaaa") == nil)
        #expect(keys.channel(forKey: "") == nil)
        #expect(keys.channels == Set(Channel.allCases))
        do {
            _ = try APIKeys.parse("hrss_web=short-key")
            Issue.record("a short key was accepted")
        } catch let error as APIKeysError {
            #expect(!error.description.contains("short-key"))
        }
        #expect(throws: APIKeysError.self) { try APIKeys.parse("hrss_web=aaaaaaaaaaaaaaaaaaaa,jingtong=aaaaaaaaaaaaaaaaaaaa") }
        #expect(throws: APIKeysError.self) { try APIKeys.parse("wechat=aaaaaaaaaaaaaaaaaaaa") }
        #expect(throws: APIKeysError.self) { try APIKeys.parse("aaaaaaaaaaaaaaaaaaaa") }
    }

    @Test("over a key's rate: 429 with Retry-After; other keys are not affected; the bucket refills")
    func rateLimit() async throws {
        let clock = SteppedClock()
        let limiter = RateLimiter(rate: 0.5, burst: 2, now: { clock.now })
        #expect(limiter.take(.hrssWeb) == .allowed)
        #expect(limiter.take(.hrssWeb) == .allowed)
        #expect(limiter.take(.hrssWeb) == .limited(retryAfterSeconds: 2))
        #expect(limiter.take(.jingtong) == .allowed)
        clock.advance(.seconds(2))
        #expect(limiter.take(.hrssWeb) == .allowed)
        #expect(limiter.take(.hrssWeb) == .limited(retryAfterSeconds: 2))

        let gateway = GatewayUnderTest { $0.burst = 3; $0.requestsPerSecond = 0.1 }
        try await gateway.test { client in
            for _ in 0..<3 { #expect(try await client.call(.get, "/v1/catalogues").status == .ok) }
            let limited = try await client.call(.get, "/v1/catalogues")
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter].flatMap(Int.init).map { $0 >= 1 && $0 <= 10 } == true)
            #expect(limited.json?["code"] == "RATE_LIMITED")
            #expect(try await client.call(.get, "/v1/catalogues", key: TestKeys.minsheng).status == .ok)
            // Unauthenticated paths are not counted against anyone.
            #expect(try await client.call(.get, "/healthz", key: nil).status == .ok)
        }
    }

    @Test("a body over the limit is 413 SUBMISSION_TOO_LARGE, by Content-Length or while reading")
    func bodyLimit() async throws {
        let gateway = GatewayUnderTest { $0.maxBodyBytes = 2048 }
        let family = TestFamily(serial: 1)
        gateway.add(family)
        try await gateway.test { client in
            let big = family.submission(id: "web-big-1", address: "北京市朝阳区永安里20号" + String(repeating: "很长的地址", count: 200))
            let response = try await client.call(.post, "/v1/submissions", body: big)
            #expect(response.status == .contentTooLarge)
            #expect(response.json?["code"] == "SUBMISSION_TOO_LARGE")
            #expect(response.reasonCodes == ["SUBMISSION_TOO_LARGE"])
            let eligibility = try await client.call(.post, "/v1/eligibility", body: String(repeating: " ", count: 4096) + family.eligibilityBody())
            #expect(eligibility.status == .contentTooLarge)
            #expect(gateway.publisher.count == 0)
        }
    }

    @Test("/openapi.json, /healthz and /readyz need no key; /readyz is 503 until the views are loaded")
    func openPaths() async throws {
        let loading = GatewayUnderTest(loaded: false)
        try await loading.test { client in
            let document = try await client.call(.get, "/openapi.json", key: nil)
            #expect(document.status == .ok)
            #expect(document.json?["openapi"] == "3.1.0")
            #expect(document.json?["paths"]?["/v1/eligibility"]?["post"] != nil)
            #expect(try await client.call(.get, "/healthz", key: nil).json?["status"] == "alive")
            let ready = try await client.call(.get, "/readyz", key: nil)
            #expect(ready.status == .serviceUnavailable)
            #expect(ready.json?["status"] == "loading")
            #expect(ready.json?["views"]?["branches"] == .integer(Int64(testBranches.count)))
            // Endpoints that need the views say so instead of answering from half of them.
            let branches = try await client.call(.get, "/v1/branches?bank=BOB")
            #expect(branches.status == .serviceUnavailable)
            #expect(branches.headers[.retryAfter] == "1")
            #expect(branches.json?["code"] == "VIEWS_LOADING")
        }
        loading.views.markLoaded()
        try await loading.test { client in
            let ready = try await client.call(.get, "/readyz", key: nil)
            #expect(ready.status == .ok)
        }
    }
}

/// A clock tests move by hand.
final class SteppedClock: Sendable {
    private let instant = Mutex(ContinuousClock.now)
    var now: ContinuousClock.Instant { instant.withLock { $0 } }
    func advance(_ duration: Duration) { instant.withLock { $0 += duration } }
}
