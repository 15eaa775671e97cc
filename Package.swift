// swift-tools-version:6.0
import PackageDescription

// Hot C kernels are compiled for the AVX2/FMA machines this project runs on.
let kernelFlags: [CSetting] = [.unsafeFlags(["-O3", "-mavx2", "-mfma", "-mf16c", "-ffp-contract=off"])]

let package = Package(
    name: "Switchboard",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "switchboard", targets: ["switchboard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
    ],
    targets: [
        // System libraries (Debian -dev packages).
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CHTTPParser", providers: [.apt(["libhttp-parser-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // Compute: the only place that calls BLAS or holds SIMD code.
        .target(name: "CKernels", dependencies: ["COpenBLAS"], cSettings: kernelFlags),
        .target(name: "Kernels", dependencies: ["COpenBLAS", "CKernels"]),

        // Formats → tokenizer → model → engine → CLI.
        .target(name: "ModelFormats", dependencies: ["Kernels"]),
        .target(name: "Tokenizer", dependencies: ["ModelFormats"]),
        .target(name: "Adapters", dependencies: ["ModelFormats", "Kernels"]),
        .target(name: "Llama", dependencies: ["Adapters", "Kernels", "ModelFormats"]),
        .target(name: "Engine", dependencies: [
            "Adapters", "Llama", "Tokenizer", "ModelFormats", "Kernels",
            .product(name: "DequeModule", package: "swift-collections"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "HTTPServer", dependencies: ["CLibUV", "CHTTPParser", .product(name: "Logging", package: "swift-log")]),
        .target(name: "OpenAIAPI", dependencies: [
            "Engine", "Adapters", "HTTPServer", "Tokenizer", "COpenSSL",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "switchboard", dependencies: [
            "OpenAIAPI", "HTTPServer",
            "Engine", "Adapters", "Llama", "Tokenizer", "ModelFormats", "Kernels",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),

        // Fixture locations and golden-file types shared by the test targets.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
        .testTarget(name: "ModelFormatsTests", dependencies: ["ModelFormats", "Kernels", "TestSupport"]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "ModelFormats", "TestSupport"]),
        .testTarget(name: "AdaptersTests", dependencies: ["Adapters", "Llama", "Engine", "ModelFormats", "Kernels", "TestSupport"]),
        .testTarget(name: "LlamaTests", dependencies: ["Llama", "ModelFormats", "Kernels", "TestSupport"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"]),
        .testTarget(name: "ServerTests", dependencies: [
            "OpenAIAPI", "HTTPServer", "Engine", "Adapters", "TestSupport", .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "EngineTests", dependencies: [
            "Engine", "Adapters", "Llama", "Tokenizer", "ModelFormats", "TestSupport",
            .product(name: "Logging", package: "swift-log"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
