// swift-tools-version:6.0
// A Swift program that runs a budgeted architecture search through bsn's
// Session API, without the notebook. Build and run it from this folder:
//
//     swift run -c release search
import PackageDescription

let package = Package(
    name: "bsn-api-sample",
    dependencies: [.package(name: "bsn", path: "../..")],
    targets: [
        .executableTarget(name: "search", dependencies: [.product(name: "BSN", package: "bsn")], path: "Sources"),
    ]
)
