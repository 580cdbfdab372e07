import Benchmark
import CardDomain
import JSONCodec

/// What each stage pays per message in the contract's pure rules and the JSON codec, one
/// sample message per iteration (`swift package benchmark` in Benchmarks/). Whole-pipeline
/// figures are `fleet bench`'s; these isolate the domain's share of them.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .mallocCountTotal, .throughput],
        maxDuration: .seconds(2), maxIterations: 1_000_000)

    // Intake: every stateless rule over the raw bytes (walks the JSON tree once).
    Benchmark("IntakeValidator.validate (2.2 KB submission)") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(IntakeValidator.validate(Samples.submissionJSON))
        }
    }

    // Every later stage decodes the envelope it receives...
    Benchmark("CardJSON.decode ApplicationEnvelope") { benchmark in
        let bytes = Samples.envelopeJSON
        precondition(!bytes.isEmpty, "the sample envelope did not encode")
        for _ in benchmark.scaledIterations {
            blackHole(try CardJSON.decode(ApplicationEnvelope.self, from: bytes))
        }
    }

    // ...and encodes the next one plus a status.
    Benchmark("CardJSON.encode ApplicationEnvelope") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try CardJSON.encodeBytes(Samples.envelope))
        }
    }

    Benchmark("CardJSON.encode StatusEvent") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try CardJSON.encodeBytes(Samples.status))
        }
    }

    // Identity: a registry record as it arrives from registry.persons.
    Benchmark("CardJSON.decode RegistryPerson") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try CardJSON.decode(RegistryPerson.self, from: Samples.agentRecord))
        }
    }

    // GB 11643: region, birth date and check character of an 18-character number.
    Benchmark("IDNumber parse and check") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(IDNumber("110105201503070013"))
        }
    }

    Benchmark("Masking.idNumber") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(Masking.idNumber("110105201503070013"))
        }
    }
}
