import Kafka
import Testing

/// The partition functions the fleet places and checks keys with, against the values their owners publish.
@Suite("Partitioners: Java's murmur2 and librdkafka's CRC32")
struct PartitionerTests {
    @Test("murmur2 equals Apache Kafka's Utils.murmur2 on Kafka's own test vectors (UtilsTest.testMurmur2)")
    func murmur2Vectors() {
        let vectors: [(String, Int32)] = [
            ("21", -973_932_308), ("foobar", -790_332_482), ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829), ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            ("abc", 479_470_107),
        ]
        for (key, expected) in vectors { #expect(KafkaPartitioner.murmur2(Array(key.utf8)) == expected, "murmur2(\(key))") }
    }

    @Test("a key's partition is toPositive(murmur2) % n, not abs: a negative hash keeps its low 31 bits")
    func toPositiveNotAbs() {
        // murmur2("21") = -973932308 = 0xC5F3_8AEC; & 0x7fffffff = 1173551340; abs would give 973932308.
        #expect(KafkaPartitioner.murmur2Random.partition(forKey: Array("21".utf8), partitionCount: 24) == Int32(1_173_551_340 % 24))
        #expect(KafkaPartitioner.murmur2Random.partition(forKey: Array("21".utf8), partitionCount: 24) != Int32(973_932_308 % 24))
        #expect(KafkaPartitioner.murmur2.partition(forKey: Array("abc".utf8), partitionCount: 7) == Int32(479_470_107 % 7))
    }

    @Test("CRC32 is zlib's (librdkafka's rd_crc32), and consistent_random places by it")
    func crc32() {
        #expect(KafkaPartitioner.crc32(Array("123456789".utf8)) == 0xCBF4_3926)
        #expect(KafkaPartitioner.consistentRandom.partition(forKey: Array("123456789".utf8), partitionCount: 24) == Int32(0xCBF4_3926 % 24))
    }

    @Test("the fleet's producers use murmur2_random unless an operator names another key-deterministic partitioner")
    func producerProperty() {
        let client = KafkaClientConfiguration(bootstrapServers: "localhost:9092")
        #expect(KafkaProducerConfiguration(client: client).effectivePartitioner == .murmur2Random)
        var legacy = client
        legacy.extraProperties = ["partitioner": "consistent_random"]
        #expect(KafkaProducerConfiguration(client: legacy).effectivePartitioner == .consistentRandom)
        legacy.extraProperties = ["partitioner": "random"]
        #expect(KafkaProducerConfiguration(client: legacy).effectivePartitioner == nil, "random does not keep a key on one partition")
    }
}
