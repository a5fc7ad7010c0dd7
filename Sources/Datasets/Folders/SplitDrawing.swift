import Foundation
import Interface
import Tensor

/// How many images a drawn split gets: `val=0.1` (a fraction of all the
/// images) or `val=500` (a count).
public enum SplitAmount: Codable, Equatable, Sendable, CustomStringConvertible {
    case fraction(Double), count(Int)

    /// A number with a '.' is a fraction in [0, 1); an integer is a count.
    public init(parsing text: String, option: String) throws {
        if text.contains("."), let f = Double(text), f >= 0, f < 1 {
            self = .fraction(f)
        } else if let n = Int(text), n >= 0 {
            self = .count(n)
        } else {
            throw DataError("\(option)= takes a fraction in [0, 1) such as 0.1, or a count of images such as 500; not '\(text)'")
        }
    }

    /// The count out of `total` images.
    func images(of total: Int) -> Int {
        switch self {
        case .fraction(let f): Int((f * Double(total)).rounded())
        case .count(let n): n
        }
    }

    public var description: String {
        switch self {
        case .fraction(let f): "\(f)"
        case .count(let n): "\(n)"
        }
    }
}

/// Validation and test splits drawn from a set's images with a seed. For
/// classification they are stratified: every class has at least one image in
/// each split asked for, and the rest of each split is shared among the
/// classes in proportion to their sizes (largest remainders, ties to the
/// lower class). The counts are exact; the same seed gives the same splits.
enum SplitDrawing {
    /// The split of each image (`labels`: its class, or all 0 for segmentation).
    static func draw(labels: [Int32], classes: Int, validation: SplitAmount, test: SplitAmount, seed: UInt64,
                     stratified: Bool, classNames: [String]) throws -> [Split] {
        let total = labels.count
        let wanted = [validation.images(of: total), test.images(of: total)]
        guard wanted[0] + wanted[1] < total else {
            throw DataError("val= and test= ask for \(wanted[0]) + \(wanted[1]) of the \(total) images: the training split would be empty")
        }
        var members = [[Int]](repeating: [], count: stratified ? classes : 1)
        for (i, label) in labels.enumerated() { members[stratified ? Int(label) : 0].append(i) }
        let sizes = members.map(\.count)
        let present = sizes.filter { $0 > 0 }.count
        var quotas = [[Int]]()
        for (s, count) in wanted.enumerated() {
            guard count > 0 else { quotas.append([Int](repeating: 0, count: sizes.count)); continue }
            guard !stratified || count >= present else {
                throw DataError("\(s == 0 ? "val" : "test")=\(count) is fewer than the \(present) classes: each class needs an image in each split")
            }
            quotas.append(apportion(count, sizes: sizes, floor: stratified ? 1 : 0))
        }
        var splits = [Split](repeating: .train, count: total)
        for (k, indices) in members.enumerated() where !indices.isEmpty {
            guard quotas[0][k] + quotas[1][k] < indices.count else {
                throw DataError("class '\(classNames[k])' has \(indices.count) image\(indices.count == 1 ? "" : "s"): too few for train"
                                + (quotas[0][k] > 0 ? ", val" : "") + (quotas[1][k] > 0 ? " and test" : "") + " (add images, or lower val= and test=)")
            }
            var rng = RNG(seed: seed ^ 0x5EED_5917 &+ UInt64(k) &* 0x9E37_79B9_7F4A_7C15)
            var order = indices
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.integer(below: i + 1)) }
            for i in order.prefix(quotas[0][k]) { splits[i] = .validation }
            for i in order.dropFirst(quotas[0][k]).prefix(quotas[1][k]) { splits[i] = .test }
        }
        return splits
    }

    /// `count` shared among groups of `sizes`: `floor` each (non-empty groups),
    /// the rest in proportion to the sizes by largest remainder.
    static func apportion(_ count: Int, sizes: [Int], floor: Int) -> [Int] {
        var shares = sizes.map { $0 > 0 ? floor : 0 }
        let rest = count - shares.reduce(0, +), total = sizes.reduce(0, +)
        guard rest > 0, total > 0 else { return shares }
        let ideal = sizes.map { Double(rest) * Double($0) / Double(total) }
        for k in shares.indices { shares[k] += Int(ideal[k]) }
        let left = count - shares.reduce(0, +)
        let byRemainder = shares.indices.sorted { a, b in
            let ra = ideal[a] - ideal[a].rounded(.down), rb = ideal[b] - ideal[b].rounded(.down)
            return ra != rb ? ra > rb : a < b
        }
        for k in byRemainder.prefix(left) { shares[k] += 1 }
        return shares
    }
}
