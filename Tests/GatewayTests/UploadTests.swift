import CardDomain
import Foundation
import Gateway
import Hummingbird
import HummingbirdTesting
import JSONCodec
import Testing

/// Bytes that start like a PNG (its 8-byte signature), `count` long, different per `seed`.
func pngBytes(_ count: Int, seed: UInt8 = 1) -> [UInt8] {
    let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    return signature + (0..<max(0, count - signature.count)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
}

extension TestClientProtocol {
    func upload(_ bytes: [UInt8], sha256: String? = nil, mediaType: String? = "image/png", key: String? = TestKeys.web) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let key { headers[.authorization] = "Bearer \(key)" }
        if let mediaType { headers[.contentType] = mediaType }
        return try await execute(uri: "/v1/uploads/\(sha256 ?? SHA256.hex(bytes))", method: .put, headers: headers, body: ByteBuffer(bytes: bytes))
    }
}

@Suite("Claim-check uploads: PUT /v1/uploads/{sha256}")
struct UploadTests {
    static func folder() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("gateway-uploads-\(UUID().uuidString)")
    }

    @Test("stores the bytes under the key's channel and answers the claim check's uri; the same bytes again are the same object")
    func stores() async throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = GatewayUnderTest { $0.uploads = UploadStore(directory: directory) }
        let bytes = pngBytes(30_000)
        let sha = SHA256.hex(bytes)
        try await gateway.test { client in
            let first = try await client.upload(bytes)
            #expect(first.status == .created)
            #expect(first.json?["uri"] == .string("s3://card-uploads/hrss_web/\(sha)"))
            #expect(first.json?["sha256"] == .string(sha))
            #expect(first.json?["bytes"] == 30_000)
            #expect(first.json?["media_type"] == "image/png")
            let stored = try Data(contentsOf: directory.appendingPathComponent("hrss_web").appendingPathComponent(sha))
            #expect(Array(stored) == bytes)
            #expect(try await client.upload(bytes).status == .ok)
            // Upper-case hex names the same object.
            #expect(try await client.upload(bytes, sha256: sha.uppercased()).status == .ok)
            // Another portal's key writes its own object.
            let other = try await client.upload(bytes, key: TestKeys.minsheng)
            #expect(other.status == .created)
            #expect(other.json?["uri"] == .string("s3://card-uploads/minsheng/\(sha)"))
        }
    }

    @Test("refusals: digest, media type, signature, size, empty body, no key, no storage; nothing is stored")
    func refusals() async throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = GatewayUnderTest {
            $0.uploads = UploadStore(directory: directory)
            $0.maxUploadBytes = 4096
        }
        let bytes = pngBytes(2000)
        try await gateway.test { client in
            let mismatch = try await client.upload(bytes, sha256: SHA256.hex(pngBytes(2000, seed: 2)))
            #expect(mismatch.status == .unprocessableContent)
            #expect(mismatch.json?["code"] == "UPLOAD_DIGEST_MISMATCH")
            let badPath = try await client.upload(bytes, sha256: "not-a-digest")
            #expect(badPath.status == .badRequest)
            #expect(badPath.reasonCodes == ["SCHEMA_INVALID"])
            #expect(try await client.upload(bytes, mediaType: "text/plain").json?["code"] == "UPLOAD_MEDIA_TYPE_UNSUPPORTED")
            #expect(try await client.upload(bytes, mediaType: nil).status == .unsupportedMediaType)
            // Declared JPEG, bytes of a PNG.
            #expect(try await client.upload(bytes, mediaType: "image/jpeg").status == .unsupportedMediaType)
            let large = try await client.upload(pngBytes(5000))
            #expect(large.status == .contentTooLarge)
            #expect(large.json?["code"] == "UPLOAD_TOO_LARGE")
            #expect(try await client.upload([], sha256: SHA256.hex([UInt8]())).status == .badRequest)
            #expect(try await client.upload(bytes, key: nil).status == .unauthorized)
        }
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("hrss_web").path))
        try await GatewayUnderTest().test { client in
            let unavailable = try await client.upload(bytes)
            #expect(unavailable.status == .serviceUnavailable)
            #expect(unavailable.json?["code"] == "UPLOAD_STORAGE_UNAVAILABLE")
        }
    }

    @Test("a submission whose attachments are the uploads' claim checks (plus measured width and height) is accepted")
    func submissionWithUploads() async throws {
        let directory = Self.folder()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = GatewayUnderTest { $0.uploads = UploadStore(directory: directory) }
        let family = TestFamily(serial: 60)
        gateway.add(family)
        try await gateway.test { client in
            var body = try #require(JSONValue(parsing: Array(family.submission(id: "web-upload-1").utf8)))
            guard case .object(var top) = body, case .object(var documents)? = top["documents"] else { Issue.record("no documents"); return }
            let photo = pngBytes(48_000, seed: 9)
            let answer = try await client.upload(photo)
            guard case .object(var attachment)? = answer.json else { Issue.record("no upload answer"); return }
            attachment["width"] = 358
            attachment["height"] = 441
            documents["photo"] = .object(attachment)
            top["documents"] = .object(documents)
            body = .object(top)
            let text = String(decoding: try CardJSON.encodeBytes(body), as: UTF8.self)
            #expect(try await client.call(.post, "/v1/submissions", body: text).status == .accepted)
        }
        let published = try #require(gateway.publisher.published.withLock { $0.first })
        let photo = JSONValue(parsing: published.value)?["documents"]?["photo"]
        #expect(photo?["uri"]?.stringValue?.hasPrefix("s3://card-uploads/hrss_web/") == true)
        #expect(photo?["bytes"] == 48_000)
    }
}

@Suite("Claim checks that name the gateway's uploads")
struct ClaimCheckVerificationTests {
    /// The family's submission with `documents.photo` replaced by `photo`.
    static func submission(_ family: TestFamily, id: String, photo: JSONValue) throws -> String {
        guard case .object(var top)? = JSONValue(parsing: Array(family.submission(id: id).utf8)),
              case .object(var documents)? = top["documents"] else { throw CancellationError() }
        documents["photo"] = photo
        top["documents"] = .object(documents)
        return String(decoding: try CardJSON.encodeBytes(JSONValue.object(top)), as: UTF8.self)
    }

    static func photo(uri: String, sha256: String, bytes: Int) -> JSONValue {
        .object(["uri": .string(uri), "sha256": .string(sha256), "bytes": .integer(Int64(bytes)), "media_type": "image/png",
                 "width": 358, "height": 441])
    }

    @Test("a s3://card-uploads/ link must be the key's channel's object with the attachment's digest and size: else 422 ATTACHMENT_NOT_UPLOADED naming the field; other storage passes")
    func verified() async throws {
        let directory = UploadTests.folder()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gateway = GatewayUnderTest { $0.uploads = UploadStore(directory: directory) }
        let family = TestFamily(serial: 63)
        gateway.add(family)
        let bytes = pngBytes(40_000, seed: 4)
        let sha = SHA256.hex(bytes)
        let never = SHA256.hex(pngBytes(40_000, seed: 5))
        try await gateway.test { client in
            #expect(try await client.upload(bytes).status == .created)
            let cases: [(String, JSONValue)] = [
                ("never uploaded", Self.photo(uri: "s3://card-uploads/hrss_web/\(never)", sha256: never, bytes: 40_000)),
                ("another channel's prefix", Self.photo(uri: "s3://card-uploads/jingtong/\(sha)", sha256: sha, bytes: 40_000)),
                ("digest other than the link's", Self.photo(uri: "s3://card-uploads/hrss_web/\(sha)", sha256: never, bytes: 40_000)),
                ("another size", Self.photo(uri: "s3://card-uploads/hrss_web/\(sha)", sha256: sha, bytes: 39_999)),
            ]
            for (index, (name, photo)) in cases.enumerated() {
                let answer = try await client.call(.post, "/v1/submissions", body: try Self.submission(family, id: "web-claim-\(index)", photo: photo))
                #expect(answer.status == .unprocessableContent, "\(name)")
                #expect(answer.json?["code"] == "ATTACHMENT_NOT_UPLOADED", "\(name)")
                #expect(answer.json?["reasons"]?[0]?["field"] == "documents.photo.uri", "\(name)")
            }
            #expect(gateway.publisher.count == 0)
            let good = Self.photo(uri: "s3://card-uploads/hrss_web/\(sha)", sha256: sha.uppercased(), bytes: 40_000)
            #expect(try await client.call(.post, "/v1/submissions", body: try Self.submission(family, id: "web-claim-ok", photo: good)).status == .accepted)
        }
        #expect(gateway.publisher.count == 1)
    }

    @Test("an uploads folder that cannot be written is 503 UPLOAD_STORAGE_UNAVAILABLE, and nothing is kept")
    func storageFailure() async throws {
        let file = UploadTests.folder()
        try Data("not a folder".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let gateway = GatewayUnderTest { $0.uploads = UploadStore(directory: file) }
        try await gateway.test { client in
            let answer = try await client.upload(pngBytes(3000))
            #expect(answer.status == .serviceUnavailable)
            #expect(answer.json?["code"] == "UPLOAD_STORAGE_UNAVAILABLE")
            #expect(answer.headers[.retryAfter] == "5")
        }
    }
}
