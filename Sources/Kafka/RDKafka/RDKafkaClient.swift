import CRdKafka
import Foundation
import Logging
import Synchronization

/// What a C callback needs to reach Swift: the logger and, per client kind, a delivery or rebalance hook.
///
/// `@unchecked Sendable`: the fields are set once before the C handle exists and only read after,
/// except `rebalance` and `startOffset`, which are set only before `subscribe`/`assign` is called.
final class RDKafkaContext: @unchecked Sendable {
    let logger: Logger
    var rebalance: (@Sendable (RebalanceEvent) -> [TopicPartitionOffset]?)?
    /// Where a partition without a stored offset starts (`RD_KAFKA_OFFSET_BEGINNING` or `_END`).
    var startOffset = Int64(RD_KAFKA_OFFSET_BEGINNING)

    init(logger: Logger) { self.logger = logger }
}

enum RebalanceEvent: Sendable {
    case assigned([TopicPartitionOffset])
    /// `lost`: `rd_kafka_assignment_lost` (KIP-429): the group already gave them to others.
    case revoked([TopicPartitionOffset], lost: Bool)
}

/// Owns one `rd_kafka_t`, destroyed in `deinit`. Reached only through `withHandle`.
///
/// `@unchecked Sendable`: librdkafka handles are thread-safe for the calls we make.
final class RDKafkaClient: @unchecked Sendable {
    private let handle: OpaquePointer
    let context: RDKafkaContext
    private let retainedContext: Unmanaged<RDKafkaContext>

    enum Kind { case producer, consumer }

    /// Creates the client. `configure` may add callbacks to the conf before it is handed over.
    init(kind: Kind, properties: [String: String], logger: Logger,
         configure: (OpaquePointer) -> Void = { _ in }) throws {
        let conf = try RDKafkaConfig.make(properties)
        let context = RDKafkaContext(logger: logger)
        let retained = Unmanaged.passRetained(context)
        rd_kafka_conf_set_opaque(conf, retained.toOpaque())
        rd_kafka_conf_set_log_cb(conf, rdKafkaLogCallback)
        configure(conf)
        var errstr = [CChar](repeating: 0, count: 512)
        let created = rd_kafka_new(kind == .producer ? RD_KAFKA_PRODUCER : RD_KAFKA_CONSUMER, conf, &errstr, errstr.count)
        guard let created else {
            // rd_kafka_new frees the conf only on success.
            rd_kafka_conf_destroy(conf)
            retained.release()
            throw KafkaError(code: .clientCreation, reason: errstr.errorText)
        }
        self.handle = created
        self.context = context
        self.retainedContext = retained
    }

    /// A producer-kind client for admin calls, shared by every caller in the process that asks with
    /// the same properties while any of them holds it; the last to let go destroys it.
    ///
    /// Why: each `rd_kafka_t` runs a main thread and a thread per broker whose timers wake it even
    /// when nothing is asked (an idle handle cost ~0.07 % of a core here: 20 idle producers,
    /// 1.15–1.45 %), and a worker made five admin clients with one configuration (its loop, the
    /// partition watchdog, the reference loader, two set-up checks). Admin calls take their own
    /// result queue per call, so callers on different threads do not wait for each other.
    /// - Throws: ``KafkaError`` (`.configuration`, `.clientCreation`) as ``init(kind:properties:logger:configure:)``.
    static func sharedAdmin(properties: [String: String], logger: Logger) throws -> RDKafkaClient {
        try sharedAdmins.withLock { clients in
            if let client = clients[properties]?.client { return client }
            clients = clients.filter { $0.value.client != nil }
            let client = try RDKafkaClient(kind: .producer, properties: properties, logger: logger)
            clients[properties] = WeakClient(client: client)
            return client
        }
    }

    func withHandle<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        try body(handle)
    }

    deinit {
        rd_kafka_destroy(handle)
        retainedContext.release()
    }
}

private struct WeakClient { weak var client: RDKafkaClient? }
private let sharedAdmins = Mutex<[[String: String]: WeakClient]>([:])

enum RDKafkaConfig {
    static func make(_ properties: [String: String]) throws -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            if rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
                rd_kafka_conf_destroy(conf)
                // The value is left out: it may be a password (sasl.password, ssl.key.password).
                throw KafkaError(code: .configuration, reason: "property \(key): \(errstr.errorText)")
            }
        }
        return conf
    }
}

/// Bridges librdkafka's syslog-levelled log lines to swift-log.
private let rdKafkaLogCallback: @convention(c) (OpaquePointer?, Int32, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Void = { rk, level, fac, buf in
    guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
    let context = Unmanaged<RDKafkaContext>.fromOpaque(opaque).takeUnretainedValue()
    let swiftLevel: Logger.Level
    switch level {
    case ...3: swiftLevel = .error
    case 4: swiftLevel = .warning
    case 5, 6: swiftLevel = .info
    default: swiftLevel = .debug
    }
    context.logger.log(level: swiftLevel, "librdkafka", metadata: [
        "rdkafka.facility": .string(fac.map { String(cString: $0) } ?? ""),
        "rdkafka.message": .string(buf.map { String(cString: $0) } ?? ""),
    ])
}

extension Array where Element == CChar {
    /// The NUL-terminated text librdkafka wrote into an `errstr` buffer.
    var errorText: String {
        String(decoding: prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
