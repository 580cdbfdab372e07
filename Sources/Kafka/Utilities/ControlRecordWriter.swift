import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Appends one transaction marker (a KIP-98 control record, COMMIT or ABORT) to a partition
/// with a raw Produce request, as every transaction of a transactional producer leaves on
/// Apache Kafka. The embedded broker (librdkafka's mock) never writes markers itself but
/// stores this batch like any other: consumers then see data offsets jump over it, and a
/// partition can end in an offset that holds nothing deliverable.
///
/// For tests and diagnostics against the embedded broker; `bootstrap`'s first broker must lead
/// the partition. Request shape: Produce v3, one RecordBatch v2 (magic 2) with the
/// transactional and control attributes and one record: key `(version 0, type)`, value
/// `(version 0, coordinator epoch 0)`.
public enum ControlRecordWriter {
    public enum Marker: Int16, Sendable { case abort = 0, commit = 1 }

    /// Writes the marker and returns its offset.
    /// - Throws: `KafkaError` `.produce` when the broker refuses the batch or cannot be reached.
    @discardableResult
    public static func append(_ marker: Marker = .commit, bootstrap: String, topic: String, partition: Int32) throws -> Int64 {
        let request = produceRequest(topic: topic, partition: partition, batch: controlBatch(marker))
        let response = try roundTrip(bootstrap: bootstrap, request: request)
        // correlation id, [topic [partition error_code base_offset log_append_time]], throttle
        var reader = Reader(bytes: response)
        _ = try reader.int32()
        _ = try reader.int32()  // one topic
        let nameLength = try reader.int16()
        try reader.skip(Int(nameLength))
        _ = try reader.int32()  // one partition
        _ = try reader.int32()
        let error = try reader.int16()
        let offset = try reader.int64()
        if error != 0 {
            throw KafkaError(code: .produce, reason: "control record refused by \(topic)[\(partition)]: Kafka error code \(error)")
        }
        return offset
    }

    static func controlBatch(_ marker: Marker) -> [UInt8] {
        let key = be(Int16(0)) + be(marker.rawValue)
        let value = be(Int16(0)) + be(Int32(0))
        // attributes, timestamp delta, offset delta, key, value, header count
        let body: [UInt8] = [0] + varint(0) + varint(0) + varint(Int64(key.count)) + key + varint(Int64(value.count)) + value + varint(0)
        let record = varint(Int64(body.count)) + body
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let attributes: Int16 = 0x10 | 0x20  // transactional | control
        // attributes, last offset delta, first/max timestamp, producer id/epoch, base sequence, record count
        let afterCRC = be(attributes) + be(Int32(0)) + be(now) + be(now) + be(Int64(-1)) + be(Int16(-1)) + be(Int32(-1)) + be(Int32(1)) + record
        let afterLength = be(Int32(-1)) + [2] + be(crc32c(afterCRC)) + afterCRC  // partition leader epoch, magic, crc
        return be(Int64(0)) + be(Int32(afterLength.count)) + afterLength
    }

    static func produceRequest(topic: String, partition: Int32, batch: [UInt8]) -> [UInt8] {
        let clientID = Array("card-control-record".utf8)
        let header = be(Int16(0)) + be(Int16(3)) + be(Int32(1)) + be(Int16(clientID.count)) + clientID  // Produce v3
        let topicName = Array(topic.utf8)
        let body = be(Int16(-1)) + be(Int16(-1)) + be(Int32(10_000))  // no transactional id, acks=all, timeout
            + be(Int32(1)) + be(Int16(topicName.count)) + topicName
            + be(Int32(1)) + be(partition) + be(Int32(batch.count)) + batch
        return header + body
    }

    private static func roundTrip(bootstrap: String, request: [UInt8]) throws -> [UInt8] {
        let first = bootstrap.split(separator: ",").first.map(String.init) ?? bootstrap
        guard let colon = first.lastIndex(of: ":"), let port = UInt16(first[first.index(after: colon)...]) else {
            throw KafkaError(code: .configuration, reason: "bootstrap \(first) is not host:port")
        }
        var host = String(first[..<colon])
        if host == "localhost" { host = "127.0.0.1" }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw KafkaError(code: .produce, reason: "socket: errno \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else {
            throw KafkaError(code: .configuration, reason: "bootstrap host \(host) is not an IPv4 address")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw KafkaError(code: .produce, reason: "connect \(first): errno \(errno)") }
        let framed = be(Int32(request.count)) + request
        var sent = 0
        while sent < framed.count {
            let n = framed[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw KafkaError(code: .produce, reason: "send: errno \(errno)") }
            sent += n
        }
        let sizeBytes = try receive(fd, 4)
        let size = Int(Int32(bigEndian: sizeBytes.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }))
        return try receive(fd, size)
    }

    private static func receive(_ fd: Int32, _ count: Int) throws -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: count)
        var got = 0
        while got < count {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress! + got, count - got, 0) }
            guard n > 0 else { throw KafkaError(code: .produce, reason: "connection closed by the broker") }
            got += n
        }
        return buffer
    }

    private struct Reader {
        let bytes: [UInt8]
        var position = 0
        mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard position + n <= bytes.count else { throw KafkaError(code: .produce, reason: "short Produce response") }
            defer { position += n }
            return bytes[position..<position + n]
        }
        mutating func skip(_ n: Int) throws { _ = try take(n) }
        mutating func int16() throws -> Int16 { Int16(truncatingIfNeeded: try take(2).reduce(0) { $0 << 8 | Int64($1) }) }
        mutating func int32() throws -> Int32 { Int32(truncatingIfNeeded: try take(4).reduce(0) { $0 << 8 | Int64($1) }) }
        mutating func int64() throws -> Int64 { try take(8).reduce(0) { $0 << 8 | Int64($1) } }
    }

    private static func be<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.bigEndian) { Array($0) } }

    /// Zig-zag varint, as record fields are encoded in RecordBatch v2.
    private static func varint(_ value: Int64) -> [UInt8] {
        var z = UInt64(bitPattern: (value << 1) ^ (value >> 63))
        var out: [UInt8] = []
        repeat {
            let byte = UInt8(z & 0x7F)
            z >>= 7
            out.append(z == 0 ? byte : byte | 0x80)
        } while z != 0
        return out
    }

    /// CRC-32C (Castagnoli), the RecordBatch v2 checksum.
    static func crc32c(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0x82F6_3B78 : crc >> 1 }
        }
        return crc ^ 0xFFFF_FFFF
    }
}
