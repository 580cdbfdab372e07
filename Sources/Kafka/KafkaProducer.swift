import CRdKafka
import Foundation
import Logging
import Synchronization

/// An idempotent producer (`enable.idempotence=true`, `acks=all`).
///
/// Delivery reports are served by a dedicated thread, never the cooperative pool; each
/// enqueued record gets exactly one completion, on that thread.
public final class KafkaProducer: Sendable {
    private let client: RDKafkaClient
    private let poller: RDKafkaPollThread
    private let logger: Logger
    private let reportsObserver = ReportsObserver()

    /// - Throws: `KafkaError` with code `.configuration` or `.clientCreation`.
    public init(configuration: KafkaProducerConfiguration, logger: Logger) throws {
        self.logger = logger
        self.client = try RDKafkaClient(kind: .producer, properties: configuration.properties, logger: logger) { conf in
            rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
        }
        let observer = reportsObserver
        self.poller = RDKafkaPollThread(name: "rdkafka-producer-poll", client: client) { observer.notify() }
    }

    /// Runs `body` on the delivery-report thread after each round of completions (once per
    /// `rd_kafka_poll` that served at least one event, not once per record). Replaces any
    /// earlier observer. The worker loop uses it to wake its consumer poll
    /// (``KafkaConsumer/wakeUp()``), so outputs waiting for a report go out at once.
    public func onDeliveryReports(_ body: @escaping @Sendable () -> Void) {
        reportsObserver.replace(body)
    }

    deinit { poller.stop() }

    /// Enqueues a record without waiting; `completion` runs once with `nil` on delivery or the error.
    ///
    /// Blocks briefly only while librdkafka's local queue is full, until room frees up.
    /// - Throws: `KafkaError` when the record cannot be enqueued at all (unknown topic, too large);
    ///   `completion` is then not called.
    public func enqueue(_ record: ProducerRecord, completion: @escaping @Sendable (KafkaError?) -> Void) throws {
        let box = Unmanaged.passRetained(DeliveryBox(completion))
        var err: rd_kafka_resp_err_t
        repeat {
            err = client.withHandle { produce(record, opaque: box.toOpaque(), on: $0) }
            if err == RD_KAFKA_RESP_ERR__QUEUE_FULL { usleep(1000) }
        } while err == RD_KAFKA_RESP_ERR__QUEUE_FULL
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            box.release()
            throw KafkaError.rd(.produce, err, "enqueue to \(record.topic)")
        }
    }

    /// Sends one record and returns when the broker has acknowledged it (acks=all).
    public func send(_ record: ProducerRecord) async throws {
        let results = await send([record])
        if let error = results[0] { throw error }
    }

    /// Sends records and returns when every one has a delivery report: `nil` for delivered, or its error.
    public func send(_ records: [ProducerRecord]) async -> [KafkaError?] {
        guard !records.isEmpty else { return [] }
        let batch = DeliveryBatch(count: records.count)
        return await withCheckedContinuation { continuation in
            batch.setContinuation(continuation)
            for (index, record) in records.enumerated() {
                do {
                    try enqueue(record) { error in batch.complete(index, error) }
                } catch {
                    batch.complete(index, error as? KafkaError ?? KafkaError(code: .produce, reason: "\(error)"))
                }
            }
        }
    }

    /// Waits until every enqueued record has a delivery report. Blocking: call off the cooperative pool.
    /// - Throws: `.timedOut` if records are still outstanding after `timeout`.
    public func flush(timeout: Duration) throws {
        let err = client.withHandle { rd_kafka_flush($0, Int32(clamping: timeout.milliseconds)) }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.rd(.timedOut, err, "flush") }
    }

    /// The largest record this producer sends, in bytes: librdkafka's effective
    /// `message.max.bytes` (default 1,000,000; raised or lowered through the client's extra
    /// properties). librdkafka refuses a record whose key + value + headers + framing exceed it
    /// with `MSG_SIZE_TOO_LARGE`, so callers check ``wireSize(of:)`` against it first.
    public var messageMaxBytes: Int {
        client.withHandle { rk -> Int in
            var buffer = [CChar](repeating: 0, count: 32)
            var size = buffer.count
            guard let conf = rd_kafka_conf(rk), rd_kafka_conf_get(conf, "message.max.bytes", &buffer, &size) == RD_KAFKA_CONF_OK else {
                return 1_000_000
            }
            return Int(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) ?? 1_000_000
        }
    }

    /// An upper bound of the bytes `record` takes against `message.max.bytes`: key + value +
    /// header names and values, plus librdkafka's per-record framing (`RD_KAFKAP_MESSAGE_V2_MAX_OVERHEAD`,
    /// varints at their widest) and per-header varints. Never less than librdkafka's own count.
    public static func wireSize(of record: ProducerRecord) -> Int {
        let framing = 64
        let headers = record.headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.count + 10 }
        return (record.key?.count ?? 0) + (record.value?.count ?? 0) + headers + framing
    }

    /// Records enqueued and not yet reported.
    public var outstanding: Int { Int(client.withHandle { rd_kafka_outq_len($0) }) }

    private func produce(_ record: ProducerRecord, opaque: UnsafeMutableRawPointer, on rk: OpaquePointer) -> rd_kafka_resp_err_t {
        // C strings must outlive the call only: librdkafka copies topic, key, value (F_COPY) and headers.
        var cStrings: [UnsafeMutablePointer<CChar>] = []
        defer { cStrings.forEach { free($0) } }
        func cString(_ s: String) -> UnsafeMutablePointer<CChar> {
            let p = strdup(s)!
            cStrings.append(p)
            return p
        }
        let key = record.key ?? []
        let value = record.value ?? []
        return key.withUnsafeBytes { keyBytes in
            value.withUnsafeBytes { valueBytes in
                var vus: [rd_kafka_vu_t] = []
                vus.reserveCapacity(6 + record.headers.count)
                var vu = rd_kafka_vu_t()
                vu.vtype = RD_KAFKA_VTYPE_TOPIC; vu.u.cstr = UnsafePointer(cString(record.topic)); vus.append(vu)
                if let partition = record.partition {
                    vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_PARTITION; vu.u.i32 = partition; vus.append(vu)
                }
                vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_MSGFLAGS; vu.u.i = RD_KAFKA_MSG_F_COPY; vus.append(vu)
                if record.key != nil {
                    vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_KEY
                    vu.u.mem.ptr = UnsafeMutableRawPointer(mutating: keyBytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)
                    vu.u.mem.size = keyBytes.count; vus.append(vu)
                }
                if record.value != nil {
                    vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_VALUE
                    vu.u.mem.ptr = UnsafeMutableRawPointer(mutating: valueBytes.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!)
                    vu.u.mem.size = valueBytes.count; vus.append(vu)
                }
                vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_OPAQUE; vu.u.ptr = opaque; vus.append(vu)
                // Header values are copied by rd_kafka_header_add; keep them alive through the call.
                let headerValues = record.headers.map { header -> UnsafeMutableRawPointer in
                    let p = malloc(max(header.value.count, 1))!
                    header.value.withUnsafeBytes { if let base = $0.baseAddress { p.copyMemory(from: base, byteCount: $0.count) } }
                    return p
                }
                defer { headerValues.forEach { free($0) } }
                for (header, valuePointer) in zip(record.headers, headerValues) {
                    vu = rd_kafka_vu_t(); vu.vtype = RD_KAFKA_VTYPE_HEADER
                    vu.u.header.name = UnsafePointer(cString(header.name))
                    vu.u.header.val = UnsafeRawPointer(valuePointer)
                    vu.u.header.size = header.value.count
                    vus.append(vu)
                }
                guard let error = rd_kafka_produceva(rk, vus, vus.count) else { return RD_KAFKA_RESP_ERR_NO_ERROR }
                let code = rd_kafka_error_code(error)
                rd_kafka_error_destroy(error)
                return code
            }
        }
    }
}

/// The per-record completion, retained across the C boundary until its delivery report.
final class DeliveryBox: Sendable {
    let completion: @Sendable (KafkaError?) -> Void
    init(_ completion: @escaping @Sendable (KafkaError?) -> Void) { self.completion = completion }
}

/// Counts down the delivery reports of one `send([...])` call and resumes its continuation once.
final class DeliveryBatch: Sendable {
    private struct State {
        var results: [KafkaError?]
        var remaining: Int
        var continuation: CheckedContinuation<[KafkaError?], Never>?
    }
    private let state: Mutex<State>

    init(count: Int) { state = Mutex(State(results: Array(repeating: nil, count: count), remaining: count)) }

    func setContinuation(_ continuation: CheckedContinuation<[KafkaError?], Never>) {
        state.withLock { $0.continuation = continuation }
    }

    func complete(_ index: Int, _ error: KafkaError?) {
        let resume: (CheckedContinuation<[KafkaError?], Never>, [KafkaError?])? = state.withLock { s in
            s.results[index] = error
            s.remaining -= 1
            guard s.remaining == 0, let c = s.continuation else { return nil }
            s.continuation = nil
            return (c, s.results)
        }
        if let (continuation, results) = resume { continuation.resume(returning: results) }
    }
}

private let deliveryReportCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = { _, message, _ in
    guard let message, let opaque = message.pointee._private else { return }
    let box = Unmanaged<DeliveryBox>.fromOpaque(opaque).takeRetainedValue()
    let err = message.pointee.err
    box.completion(err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError.rd(.produce, err, "delivery"))
}

/// The producer's delivery-report observer, shared with its poll thread.
///
/// The body is kept in a class box, never as the Mutex's value itself. A function value read out
/// of a generic container through `inout` (`withLock { $0 }`) is re-abstracted on the write-back,
/// so each read wrapped the stored closure in two more reabstraction thunks: after n rounds of
/// reports a call went 2n frames deep, each round cost more than the last (a fifth of a busy
/// worker's CPU after 15 s) and the poll thread's 8 MiB stack would overflow after ~262,000
/// rounds (32 bytes a round). A class reference has one representation, so nothing is re-wrapped.
final class ReportsObserver: Sendable {
    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
    private let body = Mutex<Body?>(nil)

    /// Sets the body every later `notify` runs (nil: none).
    func replace(_ run: (@Sendable () -> Void)?) {
        let box = run.map(Body.init)
        body.withLock { $0 = box }
    }

    /// Runs the body, if any, on the calling thread.
    func notify() { body.withLock { $0 }?.run() }
}

/// Serves a client's callbacks (delivery reports, logs, errors) on a dedicated thread.
final class RDKafkaPollThread: Sendable {
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)

    /// - Parameter afterEvents: runs on this thread after a poll that served at least one event.
    init(name: String, client: RDKafkaClient, afterEvents: @escaping @Sendable () -> Void = {}) {
        // The thread keeps `self` and the client alive until `stop()` lets it leave its loop.
        let thread = Thread { [self] in
            while !self.stopped.withLock({ $0 }) {
                if client.withHandle({ rd_kafka_poll($0, 50) }) > 0 { afterEvents() }
            }
            self.finished.signal()
        }
        thread.name = name
        thread.start()
    }

    /// Stops polling; returns once the thread has left its loop.
    func stop() {
        let wasStopped = stopped.withLock { s in defer { s = true }; return s }
        if !wasStopped { finished.wait() }
    }
}
