import Foundation

/// The project's seeded pseudo-random generator (xoshiro256**, seeded through
/// splitmix64). Every random choice in bsn goes through one of these so that
/// the same seed gives the same numbers; `state` can be saved with a session
/// and restored to continue the stream exactly. Swift's system generator
/// cannot be seeded, so it is never used.
public struct RNG: RandomNumberGenerator, Codable, Equatable, Sendable {
    /// The four words of generator state. Restoring them continues the stream.
    public var state: [UInt64] {
        get { [s0, s1, s2, s3] }
        set {
            precondition(newValue.count == 4 && newValue.contains { $0 != 0 }, "RNG state must be 4 words, not all zero")
            (s0, s1, s2, s3) = (newValue[0], newValue[1], newValue[2], newValue[3])
        }
    }

    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

    public init(seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        (s0, s1, s2, s3) = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    private enum Key: String, CodingKey { case s0, s1, s2, s3 }

    /// A saved generator; an all-zero state (which would give zeros forever) is refused.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        (s0, s1, s2, s3) = (try c.decode(UInt64.self, forKey: .s0), try c.decode(UInt64.self, forKey: .s1),
                            try c.decode(UInt64.self, forKey: .s2), try c.decode(UInt64.self, forKey: .s3))
        guard s0 | s1 | s2 | s3 != 0 else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "a generator state of all zeros (it would draw zeros forever)"))
        }
    }

    public init(state: [UInt64]) {
        self.init(seed: 0)
        self.state = state
    }

    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// Uniform in [0, 1), 24 random bits.
    public mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-24 }

    /// Uniform in [low, high).
    public mutating func uniform(_ low: Float, _ high: Float) -> Float { low + (high - low) * uniform() }

    /// Uniform in [0, 1) as a Double, 53 random bits.
    public mutating func uniformDouble() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Standard normal (Box–Muller; one draw of two uniforms per value).
    public mutating func normal() -> Float {
        let u1 = 1 - uniformDouble()          // (0, 1], so log is finite
        let u2 = uniformDouble()
        return Float((-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Normal with this mean and standard deviation.
    public mutating func normal(mean: Float, std: Float) -> Float { mean + std * normal() }

    /// True with probability `p`.
    public mutating func bernoulli(_ p: Float) -> Bool { uniform() < p }

    /// Uniform integer in 0..<bound.
    public mutating func integer(below bound: Int) -> Int {
        precondition(bound > 0)
        return Int(next(upperBound: UInt64(bound)))
    }

    /// Fills `tensor` with normal values.
    public mutating func fillNormal(_ tensor: Tensor, mean: Float = 0, std: Float = 1) {
        for i in 0..<tensor.count { tensor.data[i] = normal(mean: mean, std: std) }
    }

    /// Fills `tensor` with uniform values in [low, high).
    public mutating func fillUniform(_ tensor: Tensor, _ low: Float = 0, _ high: Float = 1) {
        for i in 0..<tensor.count { tensor.data[i] = uniform(low, high) }
    }
}
