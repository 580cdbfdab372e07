import Foundation
import FleetSupport
import Kafka
import Logging
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Helpers the ops tests share: free ports, HTTP GETs, an embedded cluster and a count-worker.
enum OpsSupport {
    /// A TCP port nobody listens on right now (bound to 0 and released).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The first of `count` consecutive TCP ports nobody listens on right now.
    static func freePortBlock(_ count: Int) -> Int {
        while true {
            let base = Int.random(in: 20_000...60_000)
            if (base..<base + count).allSatisfy(isFree) { return base }
        }
    }

    /// Whether 127.0.0.1:`port` can be bound now.
    static func isFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// GET `url`: status and body, or `nil` when nothing answers.
    static func get(_ url: String) async -> (status: Int, body: String)? {
        var request = URLRequest(url: URL(string: url)!)
        request.timeoutInterval = 2
        guard let (data, response) = try? await URLSession.shared.data(for: request),
              let http = response as? HTTPURLResponse else { return nil }
        return (http.statusCode, String(decoding: data, as: UTF8.self))
    }

    /// Polls until `check` passes on a GET of `url`, or `timeout`.
    static func waitFor(_ url: String, timeout: Duration = .seconds(30), _ check: (Int, String) -> Bool) async -> (status: Int, body: String)? {
        let deadline = ContinuousClock.now + timeout
        var last: (status: Int, body: String)?
        while ContinuousClock.now < deadline {
            last = await get(url)
            if let last, check(last.status, last.body) { return last }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return last
    }

    /// The value of a Prometheus sample line `name{labels}` in `text`.
    static func metric(_ text: String, _ sample: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(sample + " ") {
            return Double(line.dropFirst(sample.count + 1))
        }
        return nil
    }

    static var repositoryRoot: URL {
        var url = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("Topics").path) && url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url
    }
}

/// A count-worker process on an embedded cluster, with its ops port.
final class OpsWorkerHarness: @unchecked Sendable {
    let logger = Logger(label: "test.ops")
    let cluster: EmbeddedCluster
    let directory: URL
    let producer: KafkaProducer
    let opsPort = OpsSupport.freePort()
    private(set) var worker: ChildProcess?

    init() throws {
        cluster = try EmbeddedCluster(logger: logger)
        try cluster.createTopic(TopicSpec(name: "test.input", partitions: 1))
        try cluster.createTopic(TopicSpec(name: "test.output", partitions: 1))
        try cluster.createTopic(TopicSpec(name: "card.dlq", partitions: 1))
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ops-worker-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: .init(bootstrapServers: cluster.bootstrapServers)), logger: logger)
    }

    var logFile: URL { directory.appendingPathComponent("worker.log") }
    var base: String { "http://127.0.0.1:\(opsPort)" }

    func startWorker(stuckAfterSeconds: Double) throws {
        worker = try ChildProcess(
            name: "count-worker", executable: BuildProducts.executable("count-worker"),
            arguments: ["--brokers", cluster.bootstrapServers, "--state-dir", directory.appendingPathComponent("state").path,
                        "--ops-port", "\(opsPort)", "--stuck-partition-seconds", "\(stuckAfterSeconds)", "--simulate-stalls",
                        "--batch-size", "1",
                        "--kafka-property", "session.timeout.ms=3000", "--kafka-property", "heartbeat.interval.ms=300"],
            environment: ["CARD_OPS_HOST": "127.0.0.1"], logFile: logFile)
    }

    func produce(_ values: [String], key: String = "k") async throws {
        let errors = await producer.send(values.map { ProducerRecord(topic: "test.input", key: Array(key.utf8), value: Array($0.utf8)) })
        if let error = errors.compactMap({ $0 }).first { throw error }
    }

    func log() -> String { readGrowingTextFile(logFile) }

    deinit {
        worker?.signal(SIGKILL)
        _ = worker?.wait(timeout: .seconds(5))
        try? FileManager.default.removeItem(at: directory)
    }
}
