import Layers
import Tensor
import XCTest

/// The one finite-difference gradient checker every test uses.
///
/// `loss` recomputes a scalar from scratch (in Double); `tensor` is perturbed
/// in place at up to `samples` positions (all of them when it is small) and
/// the central difference (loss(+ε) − loss(−ε)) / 2ε is compared with
/// `analytic`, which must hold the gradient computed before the call.
public func checkGradient(
    _ what: String, of tensor: Tensor, analytic: Tensor,
    epsilon: Float = 1e-2, tolerance: Double = 2e-2, samples: Int = 60,
    seed: UInt64 = 99, loss: () throws -> Double,
    file: StaticString = #filePath, line: UInt = #line
) rethrows {
    XCTAssertEqual(tensor.shape, analytic.shape, "\(what): gradient shape", file: file, line: line)
    var rng = RNG(seed: seed)
    let positions = tensor.count <= samples ? Array(0..<tensor.count) : (0..<samples).map { _ in rng.integer(below: tensor.count) }
    var worst = 0.0
    for i in positions {
        let saved = tensor[i]
        tensor[i] = saved + epsilon
        let plus = try loss()
        tensor[i] = saved - epsilon
        let minus = try loss()
        tensor[i] = saved
        let numeric = (plus - minus) / (2 * Double(epsilon))
        let exact = Double(analytic[i])
        let error = abs(numeric - exact) / max(1, abs(numeric), abs(exact))
        worst = max(worst, error)
        if error > tolerance {
            XCTFail("\(what)[\(i)]: finite difference \(numeric), backward \(exact)", file: file, line: line)
            return
        }
    }
    _ = try loss()   // leave the layer's saved state as it was for `tensor`'s real value
    XCTAssertLessThanOrEqual(worst, tolerance, file: file, line: line)
}

/// Checks a layer's input gradient and every parameter gradient against
/// finite differences of L = Σ R ⊙ layer(x), R a fixed random tensor.
public func checkLayerGradients(
    _ layer: any Layer, input x: Tensor, training: Bool,
    epsilon: Float = 1e-2, tolerance: Double = 2e-2, seed: UInt64 = 7,
    file: StaticString = #filePath, line: UInt = #line
) throws {
    var rng = RNG(seed: seed)
    let y = try layer.forward(x, training: training)
    let weights = Tensor(shape: y.shape)
    rng.fillUniform(weights, -1, 1)
    for p in layer.parameters { p.zeroGradient() }
    let inputGradient = try layer.backward(weights).clone()
    let parameterGradients = layer.parameters.map { $0.gradient.clone() }
    let loss = { () throws -> Double in
        let out = try layer.forward(x, training: training)
        return weightedSum(out, weights)
    }
    try checkGradient("input", of: x, analytic: inputGradient, epsilon: epsilon, tolerance: tolerance, loss: loss, file: file, line: line)
    for (p, g) in zip(layer.parameters, parameterGradients) {
        try checkGradient(p.name, of: p.value, analytic: g, epsilon: epsilon, tolerance: tolerance, loss: loss, file: file, line: line)
    }
}

/// Σ a ⊙ b in Double.
public func weightedSum(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.count == b.count)
    var total = 0.0
    for i in 0..<a.count { total += Double(a[i]) * Double(b[i]) }
    return total
}

/// A tensor of uniform values in [-1, 1) away from zero (|v| ≥ 0.05), so a
/// finite difference never straddles a ReLU kink.
public func randomTensor(_ shape: [Int], seed: UInt64, awayFromZero: Bool = false) -> Tensor {
    var rng = RNG(seed: seed)
    let t = Tensor(shape: shape)
    for i in 0..<t.count {
        var v = rng.uniform(-1, 1)
        if awayFromZero && abs(v) < 0.05 { v = v < 0 ? v - 0.05 : v + 0.05 }
        t[i] = v
    }
    return t
}

/// Asserts two tensors agree elementwise within a tolerance relative to their scale.
public func assertClose(_ a: Tensor, _ b: Tensor, tolerance: Float = 1e-4, _ what: String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, "\(what) shape", file: file, line: line)
    guard a.shape == b.shape else { return }
    var scale: Float = 1
    for i in 0..<a.count { scale = max(scale, abs(a[i]), abs(b[i])) }
    for i in 0..<a.count where abs(a[i] - b[i]) > tolerance * scale {
        XCTFail("\(what)[\(i)]: \(a[i]) vs \(b[i])", file: file, line: line)
        return
    }
}

/// A fresh execution context for a test: its own workspace and convolution
/// choices, on two threads (so the parallel paths run), nothing shared.
public func makeContext(threads: Int = 2) -> ExecutionContext { ExecutionContext(threads: threads) }
