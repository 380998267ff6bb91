// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
]

/// The library targets (split from the rest so the manifest type-checks quickly).
let libraryTargets: [Target] = [
    .target(
        name: "AfterimageCore",
        dependencies: [
            .product(name: "Crypto", package: "swift-crypto"),
        ],
        swiftSettings: swiftSettings
    ),
    .systemLibrary(
        name: "CBLAS",
        providers: [.apt(["libblas-dev"])]
    ),
    .target(
        name: "CKernels",
        // Optimised in debug builds too: the suite's embeddings and graph searches run on them.
        cSettings: [.unsafeFlags(["-O3"])]
    ),
    .target(
        name: "AfterimageEmbedding",
        dependencies: [
            "AfterimageCore",
            "CBLAS",
            "CKernels",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
        ],
        swiftSettings: swiftSettings + [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
    ),
    .target(
        name: "AfterimageMetering",
        dependencies: [
            "AfterimageCore",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
        ],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "AfterimageIndex",
        dependencies: ["CBLAS", "CKernels", "AfterimageCore", .product(name: "Crypto", package: "swift-crypto")],
        // Optimised in debug builds too: the graph's int8 kernels are 50x slower unoptimised,
        // and the test suite builds in debug.
        swiftSettings: swiftSettings + [
            .unsafeFlags(["-Ounchecked"], .when(configuration: .release)), .unsafeFlags(["-O"], .when(configuration: .debug)),
        ]
    ),
    .target(
        name: "AfterimageLexicon",
        swiftSettings: swiftSettings
    ),
    .target(
        name: "AfterimageCache",
        dependencies: ["AfterimageCore", "AfterimageIndex", "AfterimageLexicon", .product(name: "Logging", package: "swift-log")],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "AfterimageStorage",
        dependencies: [
            "AfterimageCore",
            .product(name: "GRDB", package: "GRDB.swift"),
        ],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "AfterimagePostgres",
        dependencies: [
            "AfterimageCore",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "AfterimageUpstream",
        dependencies: [
            "AfterimageCore",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "MultipartKit", package: "multipart-kit"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            "AfterimageTracing",
        ],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "AfterimageAlerts",
        dependencies: [
            "AfterimageCore",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "AfterimageTracing",
        dependencies: [.product(name: "Tracing", package: "swift-distributed-tracing")],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "AfterimageServer",
        dependencies: [
            "AfterimageMetering",
            "AfterimagePostgres",
            "AfterimageCore",
            "AfterimageStorage",
            "AfterimageUpstream",
            "AfterimageEmbedding",
            "AfterimageCache",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            "AfterimageTracing",
            "AfterimageAlerts",
            .product(name: "Tracing", package: "swift-distributed-tracing"),
            .product(name: "OTel", package: "swift-otel"),
        ],
        // The OpenAPI document (a link to docs/openapi.yaml), compiled into the binary.
        resources: [.embedInCode("OpenAPI/openapi.yaml")],
        swiftSettings: swiftSettings
    ),
]

/// The command-line program, the test support library and the test targets.
let programAndTestTargets: [Target] = [
    .executableTarget(
        name: "afterimage",
        dependencies: [
            "AfterimageAlerts",
            "AfterimageCore",
            "AfterimagePostgres",
            "AfterimageServer",
            "AfterimageEmbedding",
            "AfterimageCache",
            "AfterimageIndex",
            "AfterimageLexicon",
            "AfterimageMetering",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ],
        swiftSettings: swiftSettings
    ),
    .target(
        name: "AfterimageTesting",
        dependencies: [
            "AfterimageCore",
            "AfterimagePostgres",
            "AfterimageServer",
            "AfterimageStorage",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "MultipartKit", package: "multipart-kit"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "AfterimageCoreTests",
        dependencies: ["AfterimageCore", "AfterimageTesting"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "AfterimageUpstreamTests",
        dependencies: ["AfterimageUpstream", "AfterimageCore"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "AfterimageEmbeddingTests",
        dependencies: ["AfterimageEmbedding", "AfterimageCore", "CKernels"],
        resources: [.copy("Fixtures")],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "AfterimageMeteringTests",
        dependencies: ["AfterimageMetering", "AfterimageCore"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "AfterimageIndexTests",
        dependencies: ["AfterimageIndex", "AfterimageEmbedding"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "AfterimageLexiconTests",
        dependencies: ["AfterimageLexicon"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "AfterimageCacheTests",
        dependencies: ["AfterimageCache", "AfterimageIndex", "AfterimageCore", "AfterimageEmbedding", "AfterimageLexicon"],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "AfterimageStorageTests",
        dependencies: [
            "AfterimageStorage", "AfterimagePostgres", "AfterimageCore", "AfterimageTesting",
            .product(name: "GRDB", package: "GRDB.swift"),
        ],
        swiftSettings: swiftSettings
    ),
    .testTarget(
        name: "AfterimageServerTests",
        dependencies: [
            "AfterimageAlerts", "AfterimageEmbedding",
            "AfterimageServer", "AfterimageTesting", "AfterimageCore", "AfterimageStorage", "AfterimagePostgres",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ],
        swiftSettings: swiftSettings
    ),
]

let package = Package(
    name: "afterimage",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "afterimage", targets: ["afterimage"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/vapor/multipart-kit.git", from: "4.7.1"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        // OpenTelemetry traces over OTLP/HTTP only (the gRPC exporter's packages are not built).
        .package(url: "https://github.com/swift-otel/swift-otel.git", from: "1.6.0", traits: ["OTLPHTTP"]),
    ],
    targets: libraryTargets + programAndTestTargets
)
