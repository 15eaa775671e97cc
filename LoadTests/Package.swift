// swift-tools-version:6.0
import PackageDescription

// The load generator for Switchboard: a black-box HTTP/1.1 client that drives the server's
// OpenAI-compatible API and reports throughput and latency. It imports no server code.
let package = Package(
    name: "LoadTests",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "loadgen", targets: ["loadgen"]),
        .library(name: "LoadGenCore", targets: ["LoadGenCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
    ],
    targets: [
        // All logic lives here so that the tests can reach it without @testable.
        .target(name: "LoadGenCore", dependencies: [
            .product(name: "Histogram", package: "hdrhistogram-swift"),
        ]),
        // The command line: option parsing and wiring only.
        .executableTarget(name: "loadgen", dependencies: [
            "LoadGenCore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "LoadGenCoreTests", dependencies: ["LoadGenCore"]),
    ],
    swiftLanguageModes: [.v6]
)
