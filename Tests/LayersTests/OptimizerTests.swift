import Layers
import Tensor
import XCTest

final class OptimizerTests: XCTestCase {
    private func parameter(_ value: Float, gradient: Float) -> Parameter {
        let p = Parameter(name: "p", shape: [1])
        p.value[0] = value
        p.gradient[0] = gradient
        return p
    }

    func testMomentumWeightDecayAndNesterovFollowTheFormula() {
        let plain = parameter(1, gradient: 0.5), nesterov = parameter(1, gradient: 0.5)
        let sgd = SGD(groups: [
            ParameterGroup(name: "plain", parameters: [plain], learningRate: 0.1, momentum: 0.9, weightDecay: 0.01),
            ParameterGroup(name: "nesterov", parameters: [nesterov], learningRate: 0.1, momentum: 0.9, weightDecay: 0.01, nesterov: true),
        ])
        sgd.step()
        // d = 0.5 + 0.01·1 = 0.51; v = 0.51
        XCTAssertEqual(plain.value[0], 1 - 0.1 * 0.51, accuracy: 1e-7)
        XCTAssertEqual(nesterov.value[0], 1 - 0.1 * (0.51 + 0.9 * 0.51), accuracy: 1e-7)
        sgd.step()
        // second step: d = 0.5 + 0.01·w1; v = 0.9·0.51 + d
        let w1: Float = 1 - 0.051, d = 0.5 + 0.01 * w1, v = 0.9 * 0.51 + d
        XCTAssertEqual(plain.value[0], w1 - 0.1 * v, accuracy: 1e-6)
    }

    func testGroupsHaveTheirOwnLearningRates() {
        let weights = parameter(1, gradient: 1), gates = parameter(3, gradient: 1)
        let gateGroup = ParameterGroup(name: "gates", parameters: [gates], learningRate: 1e-3)
        let sgd = SGD(groups: [
            ParameterGroup(name: "weights", parameters: [weights], learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4),
            gateGroup,
        ])
        sgd.step()
        XCTAssertEqual(gates.value[0], 3 - 1e-3, accuracy: 1e-7, "no momentum, no decay")
        XCTAssertEqual(weights.value[0], 1 - 0.1 * (1 + 1e-4), accuracy: 1e-7)
        gateGroup.learningRate = 0             // a group is held, not looked up by its name
        sgd.step()
        XCTAssertEqual(gates.value[0], 3 - 1e-3, accuracy: 1e-7)
        sgd.zeroGradients()
        XCTAssertEqual(weights.gradient[0], 0)
    }

    func testPiecewiseConstantSchedule() {
        let schedule = PiecewiseConstantSchedule(initial: 0.1, changes: [.init(at: 225, value: 0.001), .init(at: 150, value: 0.01)])
        XCTAssertEqual(schedule.value(at: 0), 0.1)
        XCTAssertEqual(schedule.value(at: 149), 0.1)
        XCTAssertEqual(schedule.value(at: 150), 0.01)
        XCTAssertEqual(schedule.value(at: 224), 0.01)
        XCTAssertEqual(schedule.value(at: 300), 0.001)
    }
}
