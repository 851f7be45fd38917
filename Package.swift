// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "lcdb",
    products: [
        .library(name: "LCDBCore", targets: ["LCDBCore"]),
        .library(name: "LCDBStore", targets: ["LCDBStore"]),
        .executable(name: "lcdb", targets: ["lcdb"]),
    ],
    dependencies: [
        // SQLite access, transactions and migrations.
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // MARK: Libraries
        .target(
            name: "LCDBCore",
            dependencies: ["COpenBLAS"]
        ),

        .target(
            name: "LCDBStore",
            dependencies: [
                "LCDBCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                // The raw C API, for incremental blob I/O on GRDB's connection.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),

        // MARK: C system libraries
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),

        // MARK: Executable
        .executableTarget(name: "lcdb", dependencies: ["LCDBCore"]),

        // MARK: Benchmarks (run by Benchmarks/run, release builds only)
        .executableTarget(name: "lcdb-bench", dependencies: ["LCDBCore"], path: "Benchmarks/Sources/lcdb-bench"),

        // MARK: Tests
        .testTarget(name: "LCDBCoreTests", dependencies: ["LCDBCore"]),
        .testTarget(name: "LCDBStoreTests", dependencies: ["LCDBStore", .product(name: "GRDB", package: "GRDB.swift")]),
    ]
)
