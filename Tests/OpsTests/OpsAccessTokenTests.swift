import Foundation
import Kafka
import Logging
import ServiceLifecycle
import Testing
@testable import OperatorViews
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The ops page behind `--ops-token`: nothing without the token, the page with it (Basic or Bearer).
@Suite("Ops page access token")
struct OpsAccessTokenTests {
    let logger = Logger(label: "test.ops-token")

    @Test("/api/state writes times as ISO 8601 in UTC, not seconds since 2001")
    func stateTimes() throws {
        struct Stamped: Encodable { var at: Date }
        let data = try OpsPage.stateEncoder().encode(Stamped(at: Date(timeIntervalSince1970: 1_796_029_260)))
        #expect(String(decoding: data, as: UTF8.self) == #"{"at":"2026-11-30T09:01:00Z"}"#)
    }

    @Test("credentials are read from Basic and Bearer headers; the comparison needs every byte")
    func parsing() {
        #expect(OpsAccessToken<BasicRequestContextAlias>.presentedToken("Bearer s3cret") == "s3cret")
        #expect(OpsAccessToken<BasicRequestContextAlias>.presentedToken("Basic " + Data("ops:s3:cret".utf8).base64EncodedString()) == "s3:cret")
        #expect(OpsAccessToken<BasicRequestContextAlias>.presentedToken("Basic not-base64!") == nil)
        #expect(OpsAccessToken<BasicRequestContextAlias>.presentedToken("Digest x") == nil)
        #expect(OpsAccessToken<BasicRequestContextAlias>.constantTimeEqual("s3cret", "s3cret"))
        #expect(!OpsAccessToken<BasicRequestContextAlias>.constantTimeEqual("s3cret", "s3cres"))
        #expect(!OpsAccessToken<BasicRequestContextAlias>.constantTimeEqual("s3cret", "s3cret1"))
        #expect(!OpsAccessToken<BasicRequestContextAlias>.constantTimeEqual("", "x"))
    }

    @Test("a page started with a token answers 401 without it and 200 with it, on every path")
    func pageNeedsToken() async throws {
        let cluster = try EmbeddedCluster(logger: logger)
        let collector = OpsCollector(bootstrapServers: cluster.bootstrapServers, groups: [], workerMetrics: [], interval: .milliseconds(300), logger: logger)
        let port = OpsSupport.freePort()
        let app = OpsPage.application(host: "127.0.0.1", port: port, collector: collector, token: "s3cret", logger: logger)
        let services = ServiceGroup(configuration: .init(services: [.init(service: collector), .init(service: app)], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await services.run() }
            defer { tasks.cancelAll() }
            // curl, not URLSession: FoundationNetworking answers a 401 challenge by itself.
            for _ in 0..<100 where (try Self.status(port, "/", authorization: nil) ?? 0) == 0 { try await Task.sleep(for: .milliseconds(100)) }
            for path in ["/", "/api/state", "/fragment"] {
                #expect(try Self.status(port, path, authorization: nil) == 401, "\(path) without the token")
                #expect(try Self.status(port, path, authorization: "Bearer wrong") == 401)
                #expect(try Self.status(port, path, authorization: "Bearer s3cret") == 200)
                #expect(try Self.status(port, path, authorization: "Basic " + Data("anyone:s3cret".utf8).base64EncodedString()) == 200)
            }
            await services.triggerGracefulShutdown()
        }
    }

    /// The HTTP status of a GET, by curl.
    static func status(_ port: Int, _ path: String, authorization: String?) throws -> Int? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["curl", "-s", "-o", "/dev/null", "-m", "5", "-w", "%{http_code}"]
            + (authorization.map { ["-H", "Authorization: \($0)"] } ?? []) + ["http://127.0.0.1:\(port)\(path)"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Int(String(decoding: data, as: UTF8.self))
    }
}

import Hummingbird
typealias BasicRequestContextAlias = BasicRequestContext
