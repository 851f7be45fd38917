// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "lcdb",
    products: [
        .library(name: "LCDBCore", targets: ["LCDBCore"]),
        .executable(name: "lcdb", targets: ["lcdb"]),
    ],
    dependencies: [],
    targets: [
        // MARK: Libraries
        .target(
            name: "LCDBCore",
            dependencies: ["COpenBLAS"]
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
    ]
)
