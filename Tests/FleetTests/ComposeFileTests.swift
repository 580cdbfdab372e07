import Foundation
import FleetSupport
import Testing

/// docker-compose.yml, checked as far as a machine without a Docker engine can
/// (scripts/check_compose.py: parse, executables, flags and CARD_* variables against the built
/// binaries' --help, Kafka KRaft settings, topics against Topics/, Prometheus targets, and
/// `docker compose config` / `docker-compose config` when installed).
@Suite("docker-compose.yml")
struct ComposeFileTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// Where the package's executables were built (beside the test bundle).
    static let binDirectory = BuildProducts.executable("intake-worker").deletingLastPathComponent()

    @Test("scripts/check_compose.py passes on the repository's compose file")
    func composeFileChecksPass() throws {
        let result = try Self.check()
        #expect(result.status == 0, "check_compose.py failed:\n\(result.output)")
        #expect(result.output.contains(" passed, 0 failed"), "unexpected output:\n\(result.output)")
    }

    /// The checker must catch what it claims to: each mutation of the real file is one mistake.
    @Test("the checker rejects a broken compose file", arguments: [
        Mutation(name: "a command that is not a built executable",
                 replace: #"command: ["routing-worker"]"#, with: #"command: ["routing-wrker"]"#,
                 expect: "runs routing-wrker, which is not an executable product"),
        Mutation(name: "a CARD_ variable that is no option",
                 replace: "      CARD_GROUP_ID: card-intake\n", with: "      CARD_GROUP_ID: card-intake\n      CARD_BATCHSIZE: 100\n",
                 expect: "CARD_BATCHSIZE is not an option of `intake-worker`"),
        Mutation(name: "a flag the subcommand does not have",
                 replace: "      - --wait\n", with: "      - --wait-seconds\n",
                 expect: "flag --wait-seconds is not an option of `fleet topics apply`"),
        Mutation(name: "a health check on the wrong port",
                 replace: "http://localhost:9100/healthz", with: "http://localhost:9200/healthz",
                 expect: "health check does not probe /healthz on CARD_OPS_PORT 9100"),
        Mutation(name: "a quorum voter that is not a controller",
                 replace: "KAFKA_CONTROLLER_QUORUM_VOTERS: 1@kafka:9093", with: "KAFKA_CONTROLLER_QUORUM_VOTERS: 1@kafka-2:9093",
                 expect: "is not a controller service"),
        Mutation(name: "a replication factor the single broker cannot hold",
                 replace: "${CARD_REPLICATION_FACTOR:-1}", with: "${CARD_REPLICATION_FACTOR:-3}",
                 expect: "replication factor 3 needs more than the 1 broker(s)"),
        Mutation(name: "topics read from where the image has none",
                 replace: "      - /app/Topics\n", with: "      - /srv/Topics\n",
                 expect: "--topics-dir /srv/Topics is not where the Dockerfile copies Topics/"),
        Mutation(name: "a worker without a state volume of its own",
                 replace: "      - type: volume\n        target: /var/lib/card/state\n", with: "      - shared-state:/var/lib/card/state\n",
                 expect: "identity-worker: no volume of its own at CARD_STATE_DIR"),
        Mutation(name: "workers left on the loopback default inside their containers",
                 replace: "      CARD_OPS_HOST: 0.0.0.0\n", with: "",
                 expect: "CARD_OPS_HOST must be 0.0.0.0 in a container"),
        Mutation(name: "a published ops page left on the loopback default",
                 replace: #", "--ops-host", "0.0.0.0"]"#, with: "]",
                 expect: "publishes the ops page but does not pass --ops-host 0.0.0.0"),
        Mutation(name: "a published gateway left on the loopback default",
                 replace: "      CARD_GATEWAY_HOST: 0.0.0.0\n", with: "",
                 expect: "publishes the gateway but CARD_GATEWAY_HOST is not 0.0.0.0"),
        Mutation(name: "a gateway without keys",
                 replace: "      CARD_GATEWAY_KEYS_FILE: /run/secrets/gateway_keys\n", with: "",
                 expect: "gateway: no API keys"),
        Mutation(name: "a gateway whose keys secret is not mounted",
                 replace: "    secrets:\n      - gateway_keys\n", with: "",
                 expect: "names secret gateway_keys, which the service does not mount"),
        Mutation(name: "a gateway whose uploads die with the container",
                 replace: "    volumes:\n      - gateway-uploads:/var/lib/card/uploads\n", with: "",
                 expect: "no volume on CARD_GATEWAY_UPLOADS_DIR /var/lib/card/uploads"),
        Mutation(name: "a gateway variable that is no option",
                 replace: "      CARD_GATEWAY_PORT: 8090\n", with: "      CARD_GATEWAY_PORT: 8090\n      CARD_GATEWAY_RATE_LIMIT: 5\n",
                 expect: "CARD_GATEWAY_RATE_LIMIT is not an option of `gateway`"),
    ])
    func rejectsMistakes(_ mutation: Mutation) throws {
        let original = try String(contentsOf: Self.root.appendingPathComponent("docker-compose.yml"), encoding: .utf8)
        #expect(original.contains(mutation.replace), "the compose file no longer contains \(mutation.replace.debugDescription)")
        let broken = original.replacingOccurrences(of: mutation.replace, with: mutation.with)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("compose-\(UUID().uuidString).yml")
        try broken.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let result = try Self.check(["--compose", file.path, "--no-compose-cli"])
        #expect(result.status == 1, "accepted \(mutation.name):\n\(result.output)")
        #expect(result.output.contains(mutation.expect), "\(mutation.name): expected \(mutation.expect.debugDescription) in:\n\(result.output)")
    }

    /// The alert rules Prometheus mounts: a rule on a metric no source creates (a typo, a rename)
    /// would never fire; the checker names it. The broken copy is mounted in place of deploy/alerts.yml.
    @Test("the checker rejects an alert rule on a metric no source creates, and one without severity", arguments: [
        Mutation(name: "time to loss metric misspelt", replace: "(card_lag_time_to_loss_seconds)", with: "(card_lag_time_to_los_seconds)",
                 expect: "alert CardConsumerDataLossSoon uses card_lag_time_to_los_seconds, which no source under Sources/ creates"),
        Mutation(name: "no severity", replace: "        expr: min by (group, topic, partition) (card_lag_time_to_loss_seconds) < 3600\n        for: 2m\n        labels: {severity: page}\n",
                 with: "        expr: min by (group, topic, partition) (card_lag_time_to_loss_seconds) < 3600\n        for: 2m\n",
                 expect: "alert CardConsumerDataLossSoon needs labels.severity page or ticket"),
    ])
    func rejectsBrokenAlertRules(_ mutation: Mutation) throws {
        let alerts = try String(contentsOf: Self.root.appendingPathComponent("deploy/alerts.yml"), encoding: .utf8)
        #expect(alerts.contains(mutation.replace), "deploy/alerts.yml no longer contains \(mutation.replace.debugDescription)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let brokenAlerts = directory.appendingPathComponent("alerts.yml")
        try alerts.replacingOccurrences(of: mutation.replace, with: mutation.with).write(to: brokenAlerts, atomically: true, encoding: .utf8)
        let compose = try String(contentsOf: Self.root.appendingPathComponent("docker-compose.yml"), encoding: .utf8)
        #expect(compose.contains("./deploy/alerts.yml:/etc/prometheus/alerts.yml"))
        let composeFile = directory.appendingPathComponent("docker-compose.yml")
        try compose.replacingOccurrences(of: "./deploy/alerts.yml:", with: brokenAlerts.path + ":").write(to: composeFile, atomically: true, encoding: .utf8)
        let result = try Self.check(["--compose", composeFile.path, "--no-compose-cli"])
        #expect(result.status == 1, "accepted \(mutation.name):\n\(result.output)")
        #expect(result.output.contains(mutation.expect), "\(mutation.name): expected \(mutation.expect.debugDescription) in:\n\(result.output)")
    }

    struct Mutation: Sendable, CustomTestStringConvertible {
        var name: String
        var replace: String
        var with: String
        var expect: String
        var testDescription: String { name }
    }

    static func check(_ extra: [String] = []) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "scripts/check_compose.py", "--bin-dir", binDirectory.path] + extra
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
}
