// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "SocialSecurityCardPipeline",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "JSONCodec", targets: ["JSONCodec"]),
        .library(name: "CardDomain", targets: ["CardDomain"]),
        .library(name: "Kafka", targets: ["Kafka"]),
        .library(name: "WorkerRuntime", targets: ["WorkerRuntime"]),
        .library(name: "Gateway", targets: ["Gateway"]),
        .executable(name: "fleet", targets: ["Fleet"]),
        .executable(name: "gateway", targets: ["GatewayServer"]),
        .executable(name: "count-worker", targets: ["CountWorker"]),
        .executable(name: "intake-worker", targets: ["IntakeWorker"]),
        .executable(name: "identity-worker", targets: ["IdentityWorker"]),
        .executable(name: "routing-worker", targets: ["RoutingWorker"]),
        .executable(name: "production-worker", targets: ["ProductionWorker"]),
        .executable(name: "card-c-relay", targets: ["CRelayBaseline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // MARK: - C, confined here
        .systemLibrary(
            name: "CRdKafka",
            pkgConfig: "rdkafka",
            providers: [.apt(["librdkafka-dev"])]
        ),
        /// SQLite's session extension (changesets) over opaque pointers, for the state changelog;
        /// the system libsqlite3 GRDB links (Debian's exports sqlite3session_*/sqlite3changeset_*).
        .target(
            name: "CSQLiteSession",
            linkerSettings: [.linkedLibrary("sqlite3")]
        ),

        /// `card-c-relay`: one relay hop in plain C over librdkafka, the C-speed baseline `fleet bench` runs.
        .executableTarget(
            name: "CRelayBaseline",
            dependencies: ["CRdKafka"],
            linkerSettings: [.linkedLibrary("rdkafka")]
        ),

        // MARK: - Libraries
        /// JSON the way the contract's messages need it: a strict parser into a tree (`JSONValue`), a
        /// tree decoder, a compact sorted-keys encoder byte-identical to Foundation's, `RawJSON`
        /// pass-through, and `CardJSON`, the encoder and decoder every worker uses. Foundation only.
        .target(name: "JSONCodec"),
        /// Pure rules of the contract: models, validation, reason codes, masking. No I/O.
        .target(name: "CardDomain", dependencies: ["JSONCodec"]),
        /// Swift API over librdkafka: producer, consumer, admin, watermarks, embedded cluster.
        .target(
            name: "Kafka",
            dependencies: [
                "CRdKafka",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        /// Records a GRDB transaction's row changes as a changeset and applies one to another file.
        .target(
            name: "SQLiteChangeset",
            dependencies: ["CSQLiteSession", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        /// The effectively-once loop every worker runs.
        .target(
            name: "WorkerRuntime",
            dependencies: [
                "Kafka",
                "CardDomain",
                "JSONCodec",
                "SQLiteChangeset",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // SHA-256 of state snapshots (docs/state-changelog.md, "Snapshots").
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),

        /// The four workers' handlers: the contract's stages over the runtime.
        .target(
            name: "CardWorkers",
            dependencies: ["CardDomain", "JSONCodec", "WorkerRuntime", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        /// The ops HTTP surface of a worker (/metrics, /healthz, /readyz): HTTP stays out of the runtime.
        .target(
            name: "WorkerOps",
            dependencies: [
                "WorkerRuntime",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        /// Flags and environment shared by every worker executable; parsing stays out of the runtime.
        .target(
            name: "WorkerCLI",
            dependencies: [
                "WorkerRuntime",
                "WorkerOps",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        /// Plumbing shared by `fleet`'s libraries, benchmarks and tests: child processes and their
        /// supervision, build products, whole-topic reading, lag probing, the embedded broker's address,
        /// the Topics/ folder, terminal output.
        .target(
            name: "FleetSupport",
            dependencies: [
                "Kafka",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),

        // MARK: - fleet's libraries (the `fleet` executable only lists their commands)
        /// The operator's views: lag rules, lag monitor and time to loss (`fleet lag`), the ops page and
        /// its collector (`fleet ops`), one application's history (`fleet status`), `fleet up`'s screen,
        /// dead-letter casework (`fleet dlq`). The ops page's HTML is templates (swift-mustache) in resources.
        .target(
            name: "OperatorViews",
            dependencies: [
                "FleetSupport", "Kafka", "CardDomain", "JSONCodec", "CardWorkers", "WorkerRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Mustache", package: "swift-mustache"),
            ],
            resources: [.copy("OpsPage/Templates")]
        ),
        /// The demo world: families and branches, the submission generator, the bank simulator, and the
        /// commands that put them on the topics (`fleet seed`, `fleet submit`, `fleet bank`).
        .target(
            name: "DemoWorld",
            dependencies: [
                "FleetSupport", "OperatorViews", "Kafka", "CardDomain", "JSONCodec",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        /// Running the fleet: `fleet up` (embedded broker, topics, supervised workers, demo, ops page),
        /// `fleet broker`, `fleet topics apply`, `fleet produce`.
        .target(
            name: "FleetControl",
            dependencies: [
                "FleetSupport", "OperatorViews", "Kafka", "CardDomain", "CardWorkers", "WorkerRuntime", "WorkerCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        /// The proving tools: `fleet bench`, `bench-runtime`, `bench-relay`, `bench-json`, `chaos`,
        /// `hostile`, `probe-acks`, the hop tracer and the scaled population they feed.
        .target(
            name: "ProvingTools",
            dependencies: [
                "FleetSupport", "DemoWorld", "Kafka", "CardDomain", "JSONCodec", "CardWorkers", "WorkerRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),

        /// The portals' HTTP gateway: 资格校验, submissions, status, catalogues and branches, answered
        /// from its own views of the topics; routes, API keys and rate limits. The OpenAPI document is a resource.
        .target(
            name: "Gateway",
            dependencies: [
                "Kafka",
                "CardDomain",
                "JSONCodec",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("Resources/openapi.json"), .copy("Resources/Pages")]
        ),

        // MARK: - Executables
        /// `gateway`: flags and environment, then the gateway's services; everything else is in `Gateway`.
        .executableTarget(
            name: "GatewayServer",
            dependencies: [
                "Gateway", "Kafka", "CardDomain", "WorkerCLI", "WorkerRuntime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        /// A minimal worker (counts per key) that proves the runtime's guarantees in tests and benchmarks.
        .executableTarget(
            name: "CountWorker",
            dependencies: [
                "WorkerRuntime", "WorkerCLI",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .executableTarget(
            name: "IntakeWorker",
            dependencies: ["CardWorkers", "WorkerCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "IdentityWorker",
            dependencies: ["CardWorkers", "WorkerCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "RoutingWorker",
            dependencies: ["CardWorkers", "WorkerCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .executableTarget(
            name: "ProductionWorker",
            dependencies: ["CardWorkers", "WorkerCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        /// `fleet`: the root command listing the subcommands; each lives in the library of its concern.
        .executableTarget(
            name: "Fleet",
            dependencies: [
                "OperatorViews", "DemoWorld", "FleetControl", "ProvingTools",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: - Tests
        .testTarget(name: "CardDomainTests", dependencies: ["CardDomain", "JSONCodec"]),
        .testTarget(
            name: "FleetTests",
            dependencies: ["Fleet", "DemoWorld", "FleetControl", "OperatorViews", "FleetSupport", "Kafka", "CardDomain", "JSONCodec", "WorkerRuntime"]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "CardWorkers", "CardDomain", "JSONCodec", "Kafka", "FleetSupport", "WorkerRuntime", "Fleet", "ProvingTools", "OperatorViews", "DemoWorld",
                "IntakeWorker", "IdentityWorker", "RoutingWorker", "ProductionWorker",
            ]
        ),
        .testTarget(
            name: "OpsTests",
            dependencies: [
                "Fleet", "OperatorViews", "DemoWorld", "FleetSupport", "Kafka", "WorkerRuntime", "WorkerOps", "CardWorkers", "CardDomain", "JSONCodec", "CountWorker",
                "IntakeWorker", "IdentityWorker", "RoutingWorker", "ProductionWorker",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "Gateway", "GatewayServer", "Kafka", "CardDomain", "JSONCodec", "FleetSupport", "WorkerRuntime",
                "IntakeWorker", "IdentityWorker", "RoutingWorker", "ProductionWorker",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(name: "KafkaTests", dependencies: ["Kafka", "FleetSupport", "Fleet"]),
        .testTarget(name: "WorkerCLITests", dependencies: ["WorkerCLI", .product(name: "ArgumentParser", package: "swift-argument-parser")]),
        .testTarget(
            name: "WorkerRuntimeTests",
            dependencies: [
                "WorkerRuntime", "Kafka", "FleetSupport", "CountWorker", "Fleet", "SQLiteChangeset",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
    ]
)
