/// The partitioners whose choice of partition depends on the key alone, and their pure functions.
///
/// Co-partitioning (two topics joined by key must put a key on the same partition number) holds
/// only if every client that writes them picks partitions the same way. The Kafka ecosystem's
/// default for keyed records is Java's `murmur2` (`toPositive(murmur2(key)) % partitions`,
/// `org.apache.kafka.clients.producer.internals.BuiltInPartitioner.partitionForKey`); librdkafka's
/// default is CRC32 (`consistent_random`), which puts most keys elsewhere. The fleet's producers use
/// `murmur2_random` (librdkafka's name for Java's behaviour) unless an operator overrides the
/// librdkafka property `partitioner`.
public enum KafkaPartitioner: String, Sendable, CaseIterable {
    /// Java's default for keyed records; records without a key go to a random partition. The fleet's default.
    case murmur2Random = "murmur2_random"
    /// murmur2 for every record; a record without a key hashes as empty.
    case murmur2
    /// librdkafka's default: CRC32 of the key; records without a key go to a random partition.
    case consistentRandom = "consistent_random"
    /// CRC32 for every record.
    case consistent

    /// The partitioner the fleet's producers set and its placement checks assume.
    public static let fleetDefault = KafkaPartitioner.murmur2Random

    /// The librdkafka property naming the partitioner.
    public static let property = "partitioner"

    /// The key-deterministic partitioner named by librdkafka properties (`partitioner`), the fleet's
    /// default when the property is absent, or `nil` when it names one that does not depend on the key
    /// alone (`random`, `fnv1a…`, unknown names): such a producer cannot keep topics co-partitioned
    /// with the rest of the ecosystem.
    public static func named(in properties: [String: String]) -> KafkaPartitioner? {
        guard let name = properties[property] else { return fleetDefault }
        return KafkaPartitioner(rawValue: name)
    }

    /// The partition a record with `key` lands on among `partitionCount` partitions (0-based).
    /// - Precondition: `partitionCount > 0`.
    public func partition(forKey key: [UInt8], partitionCount: Int32) -> Int32 {
        precondition(partitionCount > 0, "a topic has at least one partition")
        switch self {
        case .murmur2Random, .murmur2:
            // Java's Utils.toPositive: clear the sign bit (not abs), then modulo.
            return Int32(bitPattern: UInt32(bitPattern: Self.murmur2(key)) & 0x7fff_ffff) % partitionCount
        case .consistentRandom, .consistent:
            return Int32(Self.crc32(key) % UInt32(partitionCount))
        }
    }

    /// Java Kafka's `Utils.murmur2` (MurmurHash2, seed `0x9747b28c`), as a signed 32-bit value like Java's.
    /// Apache Kafka's own test vectors: `"21"` → -973932308, `"foobar"` → -790332482, `"abc"` → 479470107.
    public static func murmur2(_ data: [UInt8]) -> Int32 {
        let m: UInt32 = 0x5bd1_e995
        let r: UInt32 = 24
        let length = data.count
        var h: UInt32 = 0x9747_b28c ^ UInt32(truncatingIfNeeded: length)
        var i = 0
        while i + 4 <= length {
            var k = UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
            k = k &* m
            k ^= k >> r
            k = k &* m
            h = h &* m
            h ^= k
            i += 4
        }
        let tail = length & ~3
        switch length % 4 {
        case 3:
            h ^= UInt32(data[tail + 2]) << 16
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h = h &* m
        case 2:
            h ^= UInt32(data[tail + 1]) << 8
            h ^= UInt32(data[tail])
            h = h &* m
        case 1:
            h ^= UInt32(data[tail])
            h = h &* m
        default:
            break
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return Int32(bitPattern: h)
    }

    /// CRC-32 (IEEE 802.3, reflected polynomial `0xEDB88320`, as zlib's `crc32`): librdkafka's `rd_crc32`,
    /// used by its `consistent` and `consistent_random` partitioners.
    public static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in data {
            crc = crc32Table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8)
        }
        return crc ^ 0xffff_ffff
    }

    private static let crc32Table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
}
