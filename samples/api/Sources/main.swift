// A budgeted search from Swift: the embedded shapes, a B-CNF, a flops
// budget of about half the network, a few epochs; then the test accuracy
// and a picture of what was found.
import BSN

let session = Session(name: "api-sample", seed: 1)
print(try session.load(Shapes(train: 3000, validation: 500, test: 500)).text)
print(try session.build(.cnf(columns: 3, scales: 3, channels: 16, segmentation: false, gated: true)).text)

// Multiply-accumulates per image under 6M (the full network has 15.5M), with λ·budget ≈ 1.
print(try session.budget(FlopsCost.Choice(), Budget(limit: 6e6, lambda: 1 / 6e6)).text)
try session.set(.batch(32))
try session.set(.pathLearningRate(0.02))
try session.setWarmup(.epochs(1))

var observer = TrainingObserver()
observer.epoch = { e in
    print("epoch \(e.epoch): loss \(Format.decimal(e.loss)), validation accuracy "
          + (e.validationAccuracy.map { Format.fixed($0, 3) } ?? "-") + ", flops \(Format.quantity(e.deterministicCost))")
}
print(try session.train(.epochs(6), observer: observer).text)

let test = try session.evaluate(.test)
print(test.text)
print(try session.inspect().text.split(separator: "\n")[0])
print(try session.render(.architecture, to: "api-sample-arch.png").text)
