import SuperNet
import XCTest

/// The expressions and name templates of search-space files.
final class SpaceExpressionTests: XCTestCase {
    func value(_ text: String, _ values: [String: Int] = [:]) throws -> Int { try SpaceExpression(parsing: text).evaluate(values) }

    func testArithmeticPrecedenceAndIntegerDivision() throws {
        XCTAssertEqual(try value("1 + 2 * 3"), 7)
        XCTAssertEqual(try value("(1 + 2) * 3"), 9)
        XCTAssertEqual(try value("7 / 2"), 3)
        XCTAssertEqual(try value("-7 / 2"), -3)
        XCTAssertEqual(try value("7 % 3 - -1"), 2)
        XCTAssertEqual(try value("2 * C", ["C": 16]), 32)
        XCTAssertEqual(try value("W-1", ["W": 4]), 3)
    }

    func testComparisonsLogicChoiceAndMinMax() throws {
        let at = ["k": 1, "src": 0, "S": 4]
        XCTAssertEqual(try value("src < k ? 2 : 1", at), 2)
        XCTAssertEqual(try value("src > k ? 2 : src == k ? 1 : 0", at), 0)
        XCTAssertEqual(try value("max(0, k - 1)", at), 0)
        XCTAssertEqual(try value("min(S - 1, k + 1, 7)", at), 2)
        XCTAssertEqual(try value("k >= 1 and not src", at), 1)
        XCTAssertEqual(try value("k == 0 or S != 4", at), 0)
    }

    func testNamesAreListedAndUnsetOnesNamed() throws {
        XCTAssertEqual(try SpaceExpression(parsing: "order + max(W, k) ? x : 1").names, ["order", "W", "k", "x"])
        XCTAssertThrowsError(try value("C * 2")) { XCTAssertTrue("\($0)".contains("'C' is not set"), "\($0)") }
    }

    func testMalformedExpressionsSayWhatIsWrong() {
        for (text, fragment) in [("1 +", "ends where a value was expected"), ("(1 + 2", "'(' without its ')'"), ("1 2", "unexpected '2'"),
                                 ("k ? 1", "'?' without its ':'"), ("max 1", "in parentheses"), ("3 $ 4", "unexpected '$"),
                                 ("and", "where a value was expected"), ("99999999999999999999", "too large")] {
            XCTAssertThrowsError(try SpaceExpression(parsing: text), text) { XCTAssertTrue("\($0)".contains(fragment), "\(text): \($0)") }
        }
        XCTAssertThrowsError(try value("1 / (k - k)", ["k": 3])) { XCTAssertTrue("\($0)".contains("division by zero")) }
        XCTAssertThrowsError(try value("9223372036854775807 + 1")) { XCTAssertTrue("\($0)".contains("too large")) }
    }

    func testOverlongAndOverdeepExpressionsAreRefusedNotOverflowed() throws {
        XCTAssertEqual(try value(String(repeating: "(", count: 60) + "1" + String(repeating: ")", count: 60)), 1)
        XCTAssertEqual(try value(String(repeating: "- ", count: 60) + "1"), 1)
        for text in [String(repeating: "(", count: 100) + "1" + String(repeating: ")", count: 100),
                     String(repeating: "not ", count: 100) + "1", String(repeating: "-", count: 100) + "1",
                     String(repeating: "1 ? ", count: 100) + "1" + String(repeating: " : 0", count: 100)] {
            XCTAssertThrowsError(try SpaceExpression(parsing: text)) { XCTAssertTrue("\($0)".contains("nested more than 64 deep"), "\($0)") }
        }
        let long = String(repeating: "(", count: 20_000) + "1" + String(repeating: ")", count: 20_000)
        XCTAssertThrowsError(try SpaceExpression(parsing: long)) { XCTAssertTrue("\($0)".contains("40001 characters; at most 1000"), "\($0)") }
        XCTAssertEqual(try value(Array(repeating: "1", count: 400).joined(separator: "+")), 400)
    }

    func testTemplatesFillTheirParts() throws {
        XCTAssertEqual(try SpaceTemplate(parsing: "A-{l}_{k + 1}").evaluate(["l": 2, "k": 2]), "A-2_3")
        XCTAssertEqual(try SpaceTemplate(parsing: "stem").evaluate([:]), "stem")
        XCTAssertEqual(try SpaceTemplate(parsing: "{g}{b}").evaluate(["g": 1, "b": 0]), "10")
        XCTAssertThrowsError(try SpaceTemplate(parsing: "A-{l")) { XCTAssertTrue("\($0)".contains("'{' without its '}'")) }
        XCTAssertThrowsError(try SpaceTemplate(parsing: "A-l}")) { XCTAssertTrue("\($0)".contains("'}' without its '{'")) }
    }
}
