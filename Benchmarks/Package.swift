// swift-tools-version: 6.1
import PackageDescription

// Micro benchmarks on ordo-one/benchmark, a package of their own so that neither the product's
// build nor CI pays for the benchmark framework (as Hummingbird and swift-kafka-client do).
// Run from this folder: `swift package benchmark` (see README.md here).
// End-to-end figures (`fleet bench`, chaos, hostile) stay commands of the product.
let package = Package(
    name: "CardPipelineBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "SocialSecurityCardPipeline", path: ".."),
        // The RuntimeInterposer trait (on by default under Swift 6.3 on Linux) needs a package the
        // machine's package copy does not hold; the malloc interposer alone gives the malloc counts.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "DomainBenchmarks",
            dependencies: [
                .product(name: "CardDomain", package: "SocialSecurityCardPipeline"),
                .product(name: "JSONCodec", package: "SocialSecurityCardPipeline"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/DomainBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
