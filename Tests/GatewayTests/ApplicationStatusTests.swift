import CardDomain
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import JSONCodec
import Testing

@Suite("GET /v1/applications/{id}, /v1/catalogues, /v1/branches")
struct ApplicationStatusTests {
    @Test("history from card.status, oldest first, with an ETag; If-None-Match of the same tag is 304; another channel's application is 404")
    func history() async throws {
        let gateway = GatewayUnderTest()
        let family = TestFamily(serial: 30)
        gateway.add(family)
        try await gateway.test { client in
            #expect(try await client.call(.post, "/v1/submissions", body: family.submission(id: "web-st-1")).status == .accepted)
            let fresh = try await client.call(.get, "/v1/applications/web-st-1")
            #expect(fresh.status == .ok)
            #expect(fresh.json?["status"] == "submitted")
            #expect(fresh.json?["channel"] == "hrss_web")
            #expect(fresh.json?["statuses"] == [])
            let firstTag = try #require(fresh.headers[.eTag])

            // Out of order and repeated, as a re-read may deliver them.
            gateway.status("web-st-1", .identityVerified, seq: 2)
            gateway.status("web-st-1", .received, seq: 1)
            gateway.status("web-st-1", .received, seq: 1)
            let response = try await client.call(.get, "/v1/applications/web-st-1")
            #expect(response.json?["status"] == "identity_verified")
            #expect(response.json?["statuses"]?.arrayValue?.compactMap { $0["status"]?.stringValue } == ["received", "identity_verified"])
            #expect(response.json?["statuses"]?[0]?["schema"] == "card.status.v1")
            let tag = try #require(response.headers[.eTag])
            #expect(tag != firstTag)
            let unchanged = try await client.call(.get, "/v1/applications/web-st-1", headers: [.ifNoneMatch: tag])
            #expect(unchanged.status == .notModified)
            #expect(unchanged.body.readableBytes == 0)
            #expect(try await client.call(.get, "/v1/applications/web-st-1", headers: [.ifNoneMatch: "W/" + firstTag]).status == .ok)

            for key in [TestKeys.jingtong, TestKeys.minsheng] {
                let foreign = try await client.call(.get, "/v1/applications/web-st-1", key: key)
                #expect(foreign.status == .notFound)
                #expect(foreign.json?["code"] == "APPLICATION_NOT_FOUND")
            }
            #expect(try await client.call(.get, "/v1/applications/no-such-app").status == .notFound)
            #expect(try await client.call(.get, "/v1/applications/bad%20id").status == .badRequest)
        }
    }

    @Test("long poll: ?wait= with If-None-Match returns when the next status arrives, or 304 when the wait ends")
    func longPoll() async throws {
        let gateway = GatewayUnderTest()
        let family = TestFamily(serial: 31)
        gateway.add(family)
        try await gateway.test { client in
            #expect(try await client.call(.post, "/v1/submissions", body: family.submission(id: "web-lp-1")).status == .accepted)
            gateway.status("web-lp-1", .received, seq: 1)
            let tag = try #require(try await client.call(.get, "/v1/applications/web-lp-1").headers[.eTag])

            let started = ContinuousClock.now
            let timedOut = try await client.call(.get, "/v1/applications/web-lp-1?wait=1", headers: [.ifNoneMatch: tag])
            #expect(timedOut.status == .notModified)
            #expect(ContinuousClock.now - started >= .milliseconds(900))

            async let waited = client.call(.get, "/v1/applications/web-lp-1?wait=20", headers: [.ifNoneMatch: tag])
            try await Task.sleep(for: .milliseconds(300))
            gateway.status("web-lp-1", .identityVerified, seq: 2)
            let answer = try await waited
            #expect(answer.status == .ok)
            #expect(answer.json?["status"] == "identity_verified")
            #expect(ContinuousClock.now - started < .seconds(10))

            for wait in ["-1", "31", "soon"] {
                #expect(try await client.call(.get, "/v1/applications/web-lp-1?wait=\(wait)").status == .badRequest)
            }
        }
    }

    @Test("long-poll waiters: all woken by one new status, a wait on a history already longer returns at once, a timeout on time, a cancelled wait at once")
    func waiters() async throws {
        let views = GatewayViews()
        func status(_ id: String, seq: Int) {
            let event = StatusEvent(applicationID: id, status: seq == 1 ? .received : .identityVerified, at: Timestamp(fixedNow), seq: seq)
            views.apply(topic: GatewayTopics.status, key: Array(id.utf8), value: try! CardJSON.encodeBytes(event), today: fixedToday)
        }
        let clock = ContinuousClock()
        let woken = await clock.measure {
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<50 { group.addTask { await views.waitForStatuses(of: "wait-1", moreThan: 0, timeout: .seconds(30)) } }
                try? await Task.sleep(for: .milliseconds(200))
                status("wait-1", seq: 1)
                await group.waitForAll()
            }
        }
        #expect(woken < .seconds(10), "50 waiters took \(woken)")
        #expect(await clock.measure { await views.waitForStatuses(of: "wait-1", moreThan: 0, timeout: .seconds(30)) } < .seconds(5))
        let timedOut = await clock.measure { await views.waitForStatuses(of: "wait-2", moreThan: 0, timeout: .milliseconds(300)) }
        #expect(timedOut >= .milliseconds(280) && timedOut < .seconds(10))
        let waiting = Task { await views.waitForStatuses(of: "wait-3", moreThan: 0, timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(100))
        waiting.cancel()
        #expect(await clock.measure { await waiting.value } < .seconds(10))
        // A waiter among other applications' statuses is woken by its own.
        let other = Task { await views.waitForStatuses(of: "wait-4", moreThan: 0, timeout: .seconds(60)) }
        status("wait-5", seq: 1)
        try await Task.sleep(for: .milliseconds(200))
        status("wait-4", seq: 1)
        #expect(await clock.measure { await other.value } < .seconds(10))
    }

    @Test("catalogues: the contract's 15 banks, Beijing's 16 districts, 56 ethnicities, the occupation catalogue, with Chinese names")
    func catalogues() async throws {
        let gateway = GatewayUnderTest()
        try await gateway.test { client in
            let body = try #require(try await client.call(.get, "/v1/catalogues", key: TestKeys.minsheng).json)
            #expect(body["banks"]?.arrayValue?.count == 15)
            #expect(body["banks"]?[5] == ["code": "BOB", "name": "北京银行"])
            #expect(body["districts"]?.arrayValue?.count == 16)
            #expect(body["districts"]?[2] == ["code": "110105", "name": "朝阳区"])
            #expect(body["ethnicities"]?.arrayValue?.count == 56)
            #expect(body["ethnicities"]?[0] == ["code": "01", "name": "汉族"])
            #expect(body["occupations"]?.arrayValue?.compactMap { $0["code"]?.stringValue } == ["student", "preschool", "other", "1", "2", "3", "4", "5", "6", "7", "8"])
            #expect(body["id_types"]?[1] == ["code": "household_register", "name": "户口簿"])
            #expect(body["production_days"] == 30)
        }
    }

    @Test("branches: a bank's open branches serving minors, by district; unknown bank 422 BANK_UNKNOWN, bad district 422, no bank 400")
    func branches() async throws {
        let gateway = GatewayUnderTest()
        try await gateway.test { client in
            let all = try await client.call(.get, "/v1/branches?bank=BOB")
            #expect(all.json?["branches"]?.arrayValue?.compactMap { $0["branch"]?.stringValue } == ["BOB-0105-01", "BOB-0108-01"])
            let chaoyang = try await client.call(.get, "/v1/branches?bank=BOB&district=110105")
            #expect(chaoyang.json?["branches"]?.arrayValue?.compactMap { $0["branch"]?.stringValue } == ["BOB-0105-01"])
            #expect(chaoyang.json?["branches"]?[0]?["name"] == "北京银行朝阳支行")
            #expect(try await client.call(.get, "/v1/branches?bank=CMB").json?["branches"] == [])

            let unknown = try await client.call(.get, "/v1/branches?bank=XYZ")
            #expect(unknown.status == .unprocessableContent)
            #expect(unknown.json?["code"] == "BANK_UNKNOWN")
            #expect(unknown.json?["message"] == .string(ReasonMessages.message(for: .bankUnknown, field: "bank")))
            #expect(try await client.call(.get, "/v1/branches?bank=BOB&district=110100").json?["code"] == "DISTRICT_INVALID")
            #expect(try await client.call(.get, "/v1/branches").status == .badRequest)
        }
        // A branch closed later (a newer record on the compacted topic) leaves the list; a tombstone removes it.
        var closed = testBranches[0]
        closed.open = false
        gateway.views.apply(topic: GatewayTopics.branches, key: Array(closed.key.utf8), value: try CardJSON.encodeBytes(closed), today: fixedToday)
        gateway.views.apply(topic: GatewayTopics.branches, key: Array(testBranches[2].key.utf8), value: nil, today: fixedToday)
        #expect(gateway.views.branches(bank: "BOB", district: nil).isEmpty)
    }
}
