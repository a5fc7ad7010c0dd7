import Tensor

/// He (Kaiming) initialisation: normal with standard deviation sqrt(2 / fanIn),
/// the variance that keeps activations stable through ReLU layers.
public func heInitialize(_ parameter: Parameter, fanIn: Int, rng: inout RNG) {
    rng.fillNormal(parameter.value, mean: 0, std: (2 / Float(max(fanIn, 1))).squareRoot())
}
