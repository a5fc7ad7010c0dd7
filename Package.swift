// swift-tools-version:6.0
import PackageDescription

// Hot loops are written with unsafe pointers and checked by tests; in release
// builds we drop the runtime exclusivity checks that would sit inside them.
let fast: [SwiftSetting] = [
    .unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release)),
]

let package = Package(
    name: "bsn",
    products: [
        .executable(name: "bsn", targets: ["BSNCommand"]),
        // The Session API for Swift programs (samples/api shows one).
        .library(name: "BSN", targets: ["BSN"]),
    ],
    dependencies: [
        // ONNX export writes protocol buffers: the Swift runtime of the generated messages (Sources/ONNXProto).
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        // The parallel cost's list schedule keeps its ready nodes in a priority queue (HeapModule).
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        // The shell's command line (bsn run, bench, infer, …): help, validation and completion scripts from one declaration.
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Search-space files are YAML written by hand (build space): a parser that keeps each node's line for the errors.
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // System libraries (Debian: libopenblas-dev, libreadline-dev, libpng-dev, libjpeg62-turbo-dev).
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CReadline", providers: [.apt(["libreadline-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng16", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", providers: [.apt(["libjpeg62-turbo-dev"])]),
        // Open MPI (Debian: libopenmpi-dev, openmpi-bin), for runs under mpirun; a plain bsn never starts it.
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c", providers: [.apt(["libopenmpi-dev"])]),

        // Small C shims: BLAS kernel selection at process start (CBLASCore), and the
        // setjmp/longjmp error handling of libpng and libjpeg that Swift cannot express (CImages).
        // The modulemaps' `link` lines apply to Swift importers only, so the C
        // target names its libraries itself.
        // CPU feature detection, one for C and Swift.
        .target(name: "CPUFeatures"),
        .target(name: "CBLASCore", dependencies: ["CBLAS", "CPUFeatures"], linkerSettings: [.linkedLibrary("openblas")]),
        .target(name: "CImages", dependencies: ["CPNG", "CJPEG"], linkerSettings: [.linkedLibrary("png16"), .linkedLibrary("jpeg")]),

        // Hand-tiled AVX2/FMA convolution kernels, optimised even in debug
        // builds so the tests that run them stay quick.
        .target(name: "CKernels", dependencies: ["CPUFeatures"], cSettings: [.unsafeFlags(["-O2"])]),

        // The MPI calls bsn makes, as plain C functions (MPI's handles are macros Swift cannot import).
        .target(name: "CRanks", dependencies: ["CMPI"], linkerSettings: [.linkedLibrary("mpi")]),
        // The worker threads of Parallel.forEach, which spin briefly between a step's many short loops.
        .target(name: "CWorkers"),
        .target(name: "Tensor", dependencies: ["CBLAS", "CBLASCore", "CWorkers"], swiftSettings: fast),
        // The MPI implementation of Tensor's Communicator: only the executable links MPI.
        .target(name: "MPISupport", dependencies: ["Tensor", "CRanks"]),
        // Reading only regular files, writing atomically (never through a link or onto a device), folder locks.
        .target(name: "Files"),
        // What the user reads and writes: argument words in, tables, numbers and outputs out.
        .target(name: "Interface"),
        .target(name: "Layers", dependencies: ["Tensor", "CKernels", "CPUFeatures", "Files"], swiftSettings: fast),
        .target(name: "SuperNet", dependencies: ["Tensor", "Layers", "Interface", "Files", .product(name: "HeapModule", package: "swift-collections"), .product(name: "Yams", package: "Yams")], swiftSettings: fast),
        .target(name: "Datasets", dependencies: ["Tensor", "CImages", "Interface", "Files"], swiftSettings: fast),
        // The ONNX messages, generated from onnx.proto and committed (see its README.md).
        .target(name: "ONNXProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")], exclude: ["onnx.proto", "README.md"]),
        // The TensorBoard event and summary messages (`set tensorboard`), generated from tensorboard.proto and committed the same way.
        .target(name: "TensorBoardProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")], exclude: ["tensorboard.proto", "hparams.proto", "README.md"]),
        .target(name: "Session", dependencies: ["Tensor", "Layers", "SuperNet", "Datasets", "Render", "Interface", "ONNXProto", "TensorBoardProto", "Files",
                                                .product(name: "SwiftProtobuf", package: "swift-protobuf")], swiftSettings: fast),
        .target(name: "Render", dependencies: ["SuperNet", "CImages", "Interface", "Files"], swiftSettings: fast),
        .target(name: "BSN", dependencies: ["Session", "SuperNet", "Datasets", "Render", "Interface", "Tensor"]),
        .target(name: "Notebook", dependencies: ["Session", "Interface", "Datasets", "SuperNet", "Tensor", "Render", "CReadline"], swiftSettings: fast),
        .target(name: "Benchmarks", dependencies: ["Tensor", "Layers", "SuperNet", "Datasets", "Interface", "DatasetFiles", "CKernels"], swiftSettings: fast),
        // The fuzz harness (bsn fuzz): random scripts and mutated files run through the binary itself.
        .target(name: "Fuzz", dependencies: ["Notebook", "Session", "Datasets", "Tensor", "DatasetFiles", "Interface"]),
        .executableTarget(name: "BSNCommand", dependencies: ["Benchmarks", "Notebook", "Session", "Layers", "Tensor", "MPISupport", "Fuzz", "Interface",
                                                             .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // Writers of the official dataset formats (CIFAR binary, Part Labels), for the tests, the fuzzer and the data benchmark.
        .target(name: "DatasetFiles", dependencies: ["Datasets", "Tensor"]),
        .target(name: "TestSupport", dependencies: ["Tensor", "Layers", "Fuzz", "DatasetFiles"], path: "Tests/TestSupport"),
        .testTarget(name: "SuperNetTests", dependencies: ["SuperNet", "TestSupport"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "CBLASCore", "CPUFeatures", "TestSupport"]),
        .testTarget(name: "CImagesTests", dependencies: ["CImages"]),
        .testTarget(name: "LayersTests", dependencies: ["Layers", "TestSupport"]),
        .testTarget(name: "DatasetsTests", dependencies: ["Datasets", "SuperNet", "Layers", "TestSupport", "CImages", "Interface"]),
        .testTarget(name: "RenderTests", dependencies: ["Render", "SuperNet", "Layers", "Tensor", "TestSupport"]),
        .testTarget(name: "SessionTests", dependencies: ["Session", "SuperNet", "Datasets", "Render", "Tensor", "Interface", "TestSupport", "DatasetFiles", "TensorBoardProto", "Files"]),
        .testTarget(name: "NotebookTests", dependencies: ["Notebook", "Session", "SuperNet", "TestSupport"]),
        .testTarget(name: "EndToEnd", dependencies: ["BSNCommand", "TestSupport", "Session", "Fuzz", "Datasets", "Notebook", "SuperNet", "Tensor", "Interface", "Benchmarks"]),
        .testTarget(name: "FilesTests", dependencies: ["Files"]),
        .testTarget(name: "InterfaceTests", dependencies: ["Interface"]),
    ],
    swiftLanguageModes: [.v6]
)
