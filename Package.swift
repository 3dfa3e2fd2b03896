// swift-tools-version: 6.0
//===--- Package.swift - peftlab ------------------------------------------===//
// Parameter-efficient fine-tuning of Vision Transformers, reproduced as a
// cached DAG of stages. See README.md for the two commands a user runs.
//===----------------------------------------------------------------------===//
import PackageDescription

import Foundation

/// Numeric kernels are optimised even in debug builds: an unoptimised pointer
/// loop is ~100x slower (../shared/research/swift-anchors.md §2.3).
var optimiseInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

/// Opt-in: PEFTLAB_CPU=haswell compiles the kernels for AVX2 + FMA (the
/// Makefile sets it only when /proc/cpuinfo has both). A binary built this
/// way does not run on older CPUs; the default is baseline x86-64.
if let cpu = ProcessInfo.processInfo.environment["PEFTLAB_CPU"], !cpu.isEmpty {
  optimiseInDebug.append(.unsafeFlags(["-target-cpu", cpu]))
}

let package = Package(
  name: "peftlab",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "peftlab", targets: ["peftlab"])
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "5.0.1"),
    /// SHA-256 and MD5 (BoringSSL's, with the CPU's SHA extensions): ~10x the hand-written ones.
    .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"4.0.0"),
  ],
  targets: [
    // MARK: - System libraries (found with pkg-config)
    .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(name: "CHDF5", pkgConfig: "hdf5", providers: [.apt(["libhdf5-dev"])]),
    .systemLibrary(name: "CCairo", pkgConfig: "cairo", providers: [.apt(["libcairo2-dev"])]),
    .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

    // MARK: - Library targets, one concern each
    /// Files and bytes: HDF5, atomic writes, SHA-256/MD5, the seeded RNG. Below Model, Data and Pipeline.
    .target(
      name: "Storage", dependencies: ["CHDF5", .product(name: "Crypto", package: "swift-crypto")],
      exclude: ["README.md"]),
    /// Forward/backward pairs on raw pointers; all matmuls through cblas_sgemm.
    .target(name: "Kernels", dependencies: ["COpenBLAS"], exclude: ["README.md"], swiftSettings: optimiseInDebug),
    /// The ViT: config, parameter store with timm names, forward/backward, HDF5 checkpoints, imports.
    .target(
      name: "Model",
      dependencies: ["Kernels", "Storage"],
      exclude: ["README.md"], swiftSettings: optimiseInDebug
    ),
    /// PEFT methods: one file per method; which tensors train, which modules they add.
    .target(
      name: "PEFT",
      dependencies: ["Model", "Kernels", "Storage", "Outputs"],
      exclude: ["README.md"], swiftSettings: optimiseInDebug
    ),
    /// The JSON files stages write and read (and figures read), each one Codable type.
    .target(name: "Outputs", dependencies: ["Storage"], exclude: ["README.md"]),
    /// Figure and table stages: the papers' figures from the stages' JSON, drawn with Plot.
    .target(name: "Figures", dependencies: ["Plot", "Pipeline", "Outputs", "Storage", "Yams"], exclude: ["README.md"]),
    /// Optimizers, schedules, the training loop, metrics, memory accounting.
    .target(
      name: "Training",
      dependencies: ["Model", "Kernels", "Storage", "Data", "PEFT"],
      exclude: ["README.md"], swiftSettings: optimiseInDebug
    ),
    /// Every stage kind a pipeline can name, and the one registry `peftlab run` uses.
    /// A folder per family: Training (pretrain, finetune, import, PEFT, FPT, probes), Studies (sparsity,
    /// hybridity, importance, summaries), Sweep, Figures, Data.
    .target(
      name: "Stages",
      dependencies: [
        "Training", "Figures", "Outputs", "Data", "Pipeline", "PEFT", "Model", "Kernels", "Storage", "Plot",
      ],
      exclude: ["README.md"], swiftSettings: optimiseInDebug
    ),
    /// libjpeg behind a C function (its errors longjmp, which Swift cannot catch).
    .target(name: "CJPEG", linkerSettings: [.linkedLibrary("jpeg")]),
    /// Datasets: manifests, loaders (MedMNIST npz, image folder, CSV, HDF5), the synthetic suite.
    .target(
      name: "Data",
      dependencies: ["Storage", "Pipeline", "CCairo", "CZlib", "CJPEG", "Yams"],
      exclude: ["README.md"], swiftSettings: optimiseInDebug
    ),
    /// The DAG runner: pipeline files, content-hash cache, status/explain. Knows nothing about ViTs.
    .target(name: "Pipeline", dependencies: ["Storage", "Yams"], exclude: ["README.md"]),
    /// Drawing with Cairo: one canvas for vector PDF and PNG; charts and graphs.
    .target(name: "Plot", dependencies: ["CCairo"], exclude: ["README.md"]),
    /// The subcommands of the `peftlab` tool.
    .target(
      name: "PeftlabCLI",
      dependencies: [
        "Stages", "Model", "Training", "Kernels", "COpenBLAS", "Storage", "Pipeline", "Plot", "Data", "PEFT", "Yams",
        "Outputs",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ], exclude: ["README.md"]),
    .executableTarget(name: "peftlab", dependencies: ["PeftlabCLI"]),

    // MARK: - Tests
    /// Fixture paths and comparison helpers shared by the test targets.
    .target(name: "TestSupport", path: "Tests/TestSupport"),
    .testTarget(name: "KernelsTests", dependencies: ["Kernels"]),
    .testTarget(name: "ModelTests", dependencies: ["Model", "Kernels", "Training", "TestSupport", "Storage"]),
    .testTarget(
      name: "DataTests", dependencies: ["Data", "Model", "Pipeline", "Stages", "TestSupport", "Storage", "Outputs"]),
    .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "TestSupport", "Storage"]),
    .testTarget(
      name: "TrainingTests",
      dependencies: [
        "Training", "Figures", "Model", "Kernels", "Data", "Pipeline", "Plot", "TestSupport", "Storage", "Stages",
        "Outputs",
      ]
    ),
    .testTarget(name: "PlotTests", dependencies: ["Plot"]),
    /// Needs a running single-node Slurm (make test starts one).
    .testTarget(name: "SlurmTests", dependencies: ["TestSupport"]),
    .testTarget(
      name: "PEFTTests",
      dependencies: ["PEFT", "Training", "Model", "Kernels", "Data", "Pipeline", "TestSupport", "Storage"]
    ),
  ]
)
