// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "lcdb",
    products: [
        .library(name: "LCDBCore", targets: ["LCDBCore"]),
        .library(name: "LCDBStore", targets: ["LCDBStore"]),
        .library(name: "LCDBInterop", targets: ["LCDBInterop"]),
        .library(name: "LCDBShell", targets: ["LCDBShell"]),
        .executable(name: "lcdb", targets: ["lcdb"]),
    ],
    dependencies: [
        // SQLite access, transactions and migrations.
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        // Command-line flags of the lcdb executable.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // MARK: Libraries
        .target(
            name: "LCDBCore",
            dependencies: ["COpenBLAS", "CSHA256"]
        ),

        // SHA-256 compression with the x86 SHA extensions (instructions Swift
        // cannot name); the portable path stays in LCDBCore's SHA256.
        .target(name: "CSHA256"),

        .target(
            name: "LCDBStore",
            dependencies: [
                "LCDBCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                // The raw C API, for incremental blob I/O on GRDB's connection.
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ]
        ),

        .target(name: "LCDBInterop", dependencies: ["LCDBCore"]),
        .target(name: "LCDBShell", dependencies: ["LCDBCore", "LCDBStore", "LCDBInterop", "CEditLine", "CLineEditing"]),

        // MARK: C system libraries
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]
        ),

        .systemLibrary(
            name: "CEditLine",
            pkgConfig: "libedit",
            providers: [.apt(["libedit-dev"])]
        ),

        // libedit glue in C: the variadic calls, the signal handler, and the one
        // copy of the state they share (a header's statics were duplicated per
        // object file in optimised builds).
        .target(name: "CLineEditing", dependencies: ["CEditLine"]),

        // MARK: Executable
        .executableTarget(
            name: "lcdb",
            dependencies: ["LCDBShell", "LCDBCore", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // MARK: Benchmarks (run by Benchmarks/run, release builds only)
        .executableTarget(name: "lcdb-bench", dependencies: ["LCDBCore", "LCDBStore"], path: "Benchmarks/Sources/lcdb-bench"),

        // MARK: Tests
        .testTarget(name: "LCDBCoreTests", dependencies: ["LCDBCore"]),
        .testTarget(name: "LCDBStoreTests", dependencies: ["LCDBStore", .product(name: "GRDB", package: "GRDB.swift")]),
        // Test data is read by path (#filePath), not bundled as resources.
        .testTarget(name: "LCDBInteropTests", dependencies: ["LCDBInterop"], exclude: ["Fixtures"]),
        .testTarget(name: "LCDBShellTests", dependencies: ["LCDBShell"], exclude: ["Transcripts", "interactive_session.py"]),
    ]
)
