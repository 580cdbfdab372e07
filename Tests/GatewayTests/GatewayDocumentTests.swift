import Foundation
import FleetSupport
import Testing

/// The OpenAPI document checked by a real validator, and the running gateway fuzzed against it.
@Suite("The gateway's OpenAPI document", .serialized, .timeLimit(.minutes(5)))
struct GatewayDocumentTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.currentDirectoryURL = root
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("openapi-spec-validator accepts the document, and its submission schema is the contract's (Topics/card.submission.json)")
    func validates() throws {
        let result = try Self.run(["python3", "scripts/gateway_openapi.py", "--check"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains(" passed, 0 failed"), "\(result.output)")
    }

    @Test("schemathesis against the running gateway over the embedded broker: no 5xx, every status, header and body as documented")
    func fuzz() throws {
        let bin = BuildProducts.executable("gateway").deletingLastPathComponent()
        let result = try Self.run(["bash", "scripts/gateway_fuzz.sh", "--bin-dir", bin.path, "--max-examples", "25"])
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("gateway fuzz: 4 passed, 0 failed"), "\(result.output)")
    }
}
