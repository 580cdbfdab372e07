import Foundation

/// `scripts/outside-producer.py`: Python confluent-kafka (its own librdkafka) producing as a portal's or a
/// bank's client would, with the partitioner, key, partition and headers the test names.
enum OutsideProducer {
    struct Record: Encodable {
        var value: String
        var key: String?
        var partition: Int32?
        var headers: [String: String]?
    }

    struct Placement: Decodable, Equatable {
        var partition: Int32
        var offset: Int64
    }

    /// Sends `records` in order and returns where the broker put each one.
    /// - Parameter partitioner: librdkafka's `partitioner` (`murmur2_random` is the Java client's behaviour).
    /// - Throws: when the script fails or a record was not delivered.
    static func send(_ records: [Record], topic: String, bootstrap: String, partitioner: String = "murmur2_random") throws -> [Placement] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", PipelineHarness.repositoryRoot.appendingPathComponent("scripts/outside-producer.py").path,
                             bootstrap, topic, "--partitioner", partitioner]
        let input = Pipe(), output = Pipe(), errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let encoder = JSONEncoder()
        for record in records {
            input.fileHandleForWriting.write(try encoder.encode(record) + Data("\n".utf8))
        }
        try input.fileHandleForWriting.close()
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OutsideProducerError(text: "outside-producer.py exited \(process.terminationStatus): \(String(decoding: out + err, as: UTF8.self))")
        }
        let lines = String(decoding: out, as: UTF8.self).split(separator: "\n")
        return try lines.map { try JSONDecoder().decode(Placement.self, from: Data($0.utf8)) }
    }
}

struct OutsideProducerError: Error, CustomStringConvertible {
    var text: String
    var description: String { text }
}
