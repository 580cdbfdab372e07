import ArgumentParser
import Foundation
import Testing

@testable import WorkerCLI

/// Where a worker's settings come from: flag > environment > config file > default, and the
/// config file's `KEY=value` syntax.
@Suite("Worker configuration sources")
struct WorkerConfigurationSourcesTests {
    // MARK: - KEY=value parsing

    @Test("comments, blank lines, whitespace, quotes, '=' and '#' inside values")
    func parsesKeyValueLines() throws {
        let file = try WorkerConfigFile(parsing: """
            # production identity worker
            CARD_BROKERS=kafka-1:9093,kafka-2:9093

              CARD_GROUP_ID =  card-identity  \r
            CARD_KAFKA_SASL_PASSWORD="pa=ss#word"
            CARD_KAFKA_SASL_USERNAME='card'
            CARD_LOG_LEVEL=
               # indented comment
            CARD_KAFKA_SSL_CA_LOCATION=/etc/ssl/ca.pem # not a comment: part of the value
            """)
        #expect(file.values == [
            "CARD_BROKERS": "kafka-1:9093,kafka-2:9093",
            "CARD_GROUP_ID": "card-identity",
            "CARD_KAFKA_SASL_PASSWORD": "pa=ss#word",
            "CARD_KAFKA_SASL_USERNAME": "card",
            "CARD_LOG_LEVEL": "",
            "CARD_KAFKA_SSL_CA_LOCATION": "/etc/ssl/ca.pem # not a comment: part of the value",
        ])
    }

    @Test("malformed lines are rejected with their line number", arguments: [
        ("CARD_BROKERS=a\nno equals sign here", "line 2: expected KEY=value"),
        ("brokers=kafka:9092", "line 1: key \"brokers\" is not a CARD_* name"),
        ("CARD_=x", "line 1: key \"CARD_\" is not a CARD_* name"),
        ("CARD_batch_size=5", "line 1: key \"CARD_batch_size\" is not a CARD_* name"),
        ("CARD_BATCH SIZE=5", "line 1: key \"CARD_BATCH SIZE\" is not a CARD_* name"),
        ("CARD_BATCH_SIZE=5\n# c\nCARD_BATCH_SIZE=6", "line 3: CARD_BATCH_SIZE is already set on line 1"),
        ("CARD_CONFIG=/etc/other.conf", "line 1: CARD_CONFIG cannot be set from a config file"),
    ])
    func rejectsMalformedLines(text: String, expected: String) {
        do {
            _ = try WorkerConfigFile(parsing: text, source: "w.conf")
            Issue.record("accepted \(text.debugDescription)")
        } catch {
            #expect("\(error)".contains("w.conf \(expected)"), "got: \(error)")
        }
    }

    @Test("an unreadable config file is an error naming it")
    func missingFileIsAnError() {
        #expect(throws: ValidationError.self) {
            try WorkerConfigFile.load(path: "/nonexistent/card-worker.conf")
        }
    }

    // MARK: - Precedence

    @Test("flag > environment > config file > default, for every setting the file can carry")
    func precedence() throws {
        let dir = try Self.temporaryDirectory()
        let conf = dir.appendingPathComponent("worker.conf")
        try """
            CARD_BROKERS=file:9092
            CARD_STATE_DIR=/file/state
            CARD_GROUP_ID=file-group
            CARD_BATCH_SIZE=11
            CARD_KAFKA_SECURITY_PROTOCOL=SASL_SSL
            CARD_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
            CARD_KAFKA_SASL_USERNAME=file-user
            """.write(to: conf, atomically: true, encoding: .utf8)

        // File only (named by CARD_CONFIG): every value comes from it.
        let fromFile = try WorkerOptions.parse([]).configuration(worker: "intake", environment: ["CARD_CONFIG": conf.path])
        #expect(fromFile.kafka.bootstrapServers == "file:9092")
        #expect(fromFile.stateDirectory.path == "/file/state")
        #expect(fromFile.groupID == "file-group")
        #expect(fromFile.maxBatchSize == 11)
        #expect(fromFile.kafka.extraProperties == [
            "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-512", "sasl.username": "file-user",
        ])

        // The environment beats the file, name by name; what it lacks still comes from the file.
        let environment = [
            "CARD_CONFIG": conf.path, "CARD_BROKERS": "env:9092", "CARD_BATCH_SIZE": "22",
            "CARD_KAFKA_SASL_USERNAME": "env-user",
        ]
        let fromEnv = try WorkerOptions.parse([]).configuration(worker: "intake", environment: environment)
        #expect(fromEnv.kafka.bootstrapServers == "env:9092")
        #expect(fromEnv.maxBatchSize == 22)
        #expect(fromEnv.groupID == "file-group")
        #expect(fromEnv.stateDirectory.path == "/file/state")
        #expect(fromEnv.kafka.extraProperties["sasl.username"] == "env-user")
        #expect(fromEnv.kafka.extraProperties["security.protocol"] == "SASL_SSL")

        // Flags beat both.
        let flags = try WorkerOptions.parse([
            "--brokers", "flag:9092", "--batch-size", "33", "--group-id", "flag-group",
            "--kafka-property", "sasl.username=flag-user",
        ]).configuration(worker: "intake", environment: environment)
        #expect(flags.kafka.bootstrapServers == "flag:9092")
        #expect(flags.maxBatchSize == 33)
        #expect(flags.groupID == "flag-group")
        #expect(flags.kafka.extraProperties["sasl.username"] == "flag-user")
        #expect(flags.stateDirectory.path == "/file/state")

        // Without any of them: the defaults.
        let bootstrap = dir.appendingPathComponent("bootstrap")
        try "default:9092\n".write(to: bootstrap, atomically: true, encoding: .utf8)
        let defaults = try WorkerOptions.parse(["--bootstrap-file", bootstrap.path]).configuration(worker: "routing", environment: [:])
        #expect(defaults.kafka.bootstrapServers == "default:9092")
        #expect(defaults.groupID == "card-routing")
        #expect(defaults.stateDirectory.path.hasSuffix("run/state/routing"))
        #expect(defaults.maxBatchSize == 500)
        #expect(defaults.kafka.extraProperties.isEmpty)
    }

    @Test("--config beats CARD_CONFIG; --bootstrap-file beats CARD_BOOTSTRAP_FILE")
    func pathFlagsBeatTheirVariables() throws {
        let dir = try Self.temporaryDirectory()
        let viaFlag = dir.appendingPathComponent("flag.conf"), viaEnv = dir.appendingPathComponent("env.conf")
        try "CARD_GROUP_ID=from-flag-file\nCARD_BROKERS=x:1".write(to: viaFlag, atomically: true, encoding: .utf8)
        try "CARD_GROUP_ID=from-env-file\nCARD_BROKERS=x:1".write(to: viaEnv, atomically: true, encoding: .utf8)
        // Built by hand (not parse) so validate() does not export the file into this process's environment.
        var options = try WorkerOptions.parse([])
        options.config = viaFlag.path
        #expect(try options.configuration(worker: "w", environment: ["CARD_CONFIG": viaEnv.path]).groupID == "from-flag-file")

        let flagBootstrap = dir.appendingPathComponent("b1"), envBootstrap = dir.appendingPathComponent("b2")
        try "flag-file:1".write(to: flagBootstrap, atomically: true, encoding: .utf8)
        try "env-file:1".write(to: envBootstrap, atomically: true, encoding: .utf8)
        let config = try WorkerOptions.parse(["--bootstrap-file", flagBootstrap.path])
            .configuration(worker: "w", environment: ["CARD_BOOTSTRAP_FILE": envBootstrap.path])
        #expect(config.kafka.bootstrapServers == "flag-file:1")
    }

    @Test("a malformed config file stops the worker before it starts")
    func malformedFileFailsConfiguration() throws {
        let dir = try Self.temporaryDirectory()
        let conf = dir.appendingPathComponent("bad.conf")
        try "CARD_BROKERS=k:1\nsecurity.protocol=SSL\n".write(to: conf, atomically: true, encoding: .utf8)
        #expect(throws: ValidationError.self) {
            try WorkerOptions.parse([]).configuration(worker: "w", environment: ["CARD_CONFIG": conf.path])
        }
    }

    @Test("--config exports the file's names the environment lacks, so options read from the environment see them")
    func validateExportsMissingNames() throws {
        let dir = try Self.temporaryDirectory()
        let conf = dir.appendingPathComponent("export.conf")
        let unique = "CARD_TEST_EXPORT_\(UInt32.random(in: 0...UInt32.max))"
        let preset = unique + "_PRESET"
        setenv(preset, "from-environment", 1)
        defer { unsetenv(unique); unsetenv(preset) }
        try "\(unique)=from-file\n\(preset)=from-file\n".write(to: conf, atomically: true, encoding: .utf8)
        _ = try WorkerOptions.parse(["--config", conf.path])  // runs validate()
        #expect(ProcessInfo.processInfo.environment[unique] == "from-file")
        #expect(ProcessInfo.processInfo.environment[preset] == "from-environment")
    }

    @Test("--help documents every option with help text, and names its CARD_* variable")
    func helpDocumentsEveryOption() {
        let help = WorkerOptionsHelpProbe.helpMessage(columns: 400)
        for variable in ["CARD_BROKERS", "CARD_BOOTSTRAP_FILE", "CARD_CONFIG", "CARD_STATE_DIR", "CARD_GROUP_ID",
                         "CARD_BATCH_SIZE", "CARD_KAFKA_", "CARD_LOG_LEVEL", "CARD_CLOCK_OFFSET_SECONDS", "CARD_CLOCK_FILE"] {
            #expect(help.contains(variable), "\(variable) missing from --help")
        }
        // Every option (`  --name <value>` then its text, on the same line or indented below it)
        // has help text, and the text names a CARD_ variable.
        var blocks: [(option: String, text: String)] = []
        for line in help.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("  --") || line.hasPrefix("  -") {
                let parts = line.trimmingCharacters(in: .whitespaces).split(separator: " ", maxSplits: 2, omittingEmptySubsequences: true)
                let option = String(parts[0])
                let hasValue = parts.count > 1 && parts[1].hasPrefix("<")
                let text = parts.dropFirst(hasValue ? 2 : 1).joined(separator: " ")
                blocks.append((option, text))
            } else if line.hasPrefix("        "), !blocks.isEmpty {
                blocks[blocks.count - 1].text += " " + line.trimmingCharacters(in: .whitespaces)
            }
        }
        let options = blocks.filter { $0.option != "-h," && $0.option != "--help" }
        #expect(options.count >= 10, "\(blocks.map(\.option))")
        for block in options {
            #expect(!block.text.trimmingCharacters(in: .whitespaces).isEmpty, "\(block.option) has no help text")
            #expect(block.text.contains("CARD_"), "\(block.option) does not name its CARD_ variable: \(block.text)")
        }
    }

    @Test("ops endpoints listen on loopback unless told otherwise; CARD_OPS_HOST, then --ops-host, open them")
    func opsHostIsLoopbackByDefault() throws {
        #expect(try WorkerOptions.parse([]).resolvedOpsHost(environment: [:]) == "127.0.0.1")
        #expect(try WorkerOptions.parse([]).resolvedOpsHost(environment: ["CARD_OPS_HOST": "0.0.0.0"]) == "0.0.0.0")
        #expect(try WorkerOptions.parse(["--ops-host", "10.0.0.7"]).resolvedOpsHost(environment: ["CARD_OPS_HOST": "0.0.0.0"]) == "10.0.0.7")
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("worker-cli-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// A command holding just the shared options, to render their help.
private struct WorkerOptionsHelpProbe: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "probe-worker")
    @OptionGroup var options: WorkerOptions
}
