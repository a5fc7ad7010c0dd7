import Foundation
import Interface
import XCTest

/// The command-line layer every printer and parser shares: Arguments,
/// numbers, suggestions, Table, Format, choice catalogues.
final class ArgumentsTests: XCTestCase {
    func testPositionalOptionsAndFlagsAreSeparated() throws {
        var a = try Arguments(command: "t", words: ["3", "epochs", "lambda=1e-6", "--json", "--split=val", "./a=b", "--algorithm", "direct"],
                              valued: ["algorithm"])
        XCTAssertEqual(a.next(), "3")
        XCTAssertEqual(try a.required("a unit"), "epochs")
        XCTAssertEqual(try a.double("lambda"), 1e-6)
        XCTAssertTrue(a.flag("json"))
        XCTAssertFalse(a.flag("all"))
        XCTAssertEqual(a.option("split"), "val")
        XCTAssertEqual(a.option("algorithm"), "direct", "a valued --option takes the next word")
        XCTAssertEqual(a.next(), "./a=b", "a path with = stays positional")
        XCTAssertNoThrow(try a.finish())
    }

    func testMistakesNameTheCommandAndTheNearestWord() throws {
        XCTAssertThrowsError(try Arguments(command: "t", words: ["W=1", "W=2"])) { XCTAssertEqual("\($0)", "t: W= given twice") }
        XCTAssertThrowsError(try Arguments(command: "t", words: ["--algorithm"], valued: ["algorithm"])) { XCTAssertEqual("\($0)", "t: --algorithm takes a value") }
        var empty = try Arguments(command: "t", words: [])
        XCTAssertThrowsError(try empty.required("a size")) { XCTAssertEqual("\($0)", "t: expected a size") }

        var typo = try Arguments(command: "load", words: ["trian=10"])
        _ = try typo.int("train")
        XCTAssertThrowsError(try typo.finish()) { XCTAssertEqual("\($0)", "load: unknown option 'trian=', did you mean 'train='?") }
        var far = try Arguments(command: "load", words: ["colour=red"])
        _ = try far.int("train")
        _ = try far.int("test")
        XCTAssertThrowsError(try far.finish()) { XCTAssertEqual("\($0)", "load: unknown option 'colour=' (it takes test=, train=)") }
        var none = try Arguments(command: "help", words: ["x=1"])
        XCTAssertThrowsError(try none.finish()) { XCTAssertEqual("\($0)", "help: unknown option 'x=' (this command takes no options)") }
        var flag = try Arguments(command: "eval", words: ["--sampeld"])
        _ = flag.flag("sampled")
        XCTAssertThrowsError(try flag.finish()) { XCTAssertEqual("\($0)", "eval: unknown flag '--sampeld', did you mean '--sampled'?") }
        var extra = try Arguments(command: "data", words: ["more"])
        XCTAssertThrowsError(try extra.finish()) { XCTAssertEqual("\($0)", "data: unexpected 'more'") }
    }

    func testTypedValuesAreCheckedAgainstTheirRange() throws {
        var a = try Arguments(command: "t", words: ["n=10k", "w=0", "list=1,2,4", "xs=2M,1e-3", "mode=abs", "on=yes", "bad=lots"])
        XCTAssertEqual(try a.int("n"), 10_000)
        XCTAssertThrowsError(try a.int("w", range: 1...5)) { XCTAssertTrue("\($0)".contains("1…5"), "\($0)") }
        XCTAssertEqual(try a.wholeList("list"), [1, 2, 4])
        XCTAssertEqual(try a.numberList("xs"), [2e6, 1e-3])
        enum Mode: String, CaseIterable { case max, abs }
        XCTAssertEqual(try a.choice("mode") as Mode?, .abs)
        XCTAssertEqual(try a.yesNo("on"), true)
        XCTAssertThrowsError(try a.int("bad"))
        XCTAssertEqual(try a.int("missing", default: 7), 7)
        var wrong = try Arguments(command: "t", words: ["mode=abz"])
        XCTAssertThrowsError(try wrong.choice("mode") as Mode?) { XCTAssertEqual("\($0)", "t: mode= takes max or abs, got 'abz', did you mean 'abs'?") }
    }
}

final class NumbersAndSuggestionsTests: XCTestCase {
    func testNumbersTakeSuffixesExponentsAndUnits() {
        XCTAssertEqual(parseNumber("2M"), 2e6)
        XCTAssertEqual(parseNumber("2.5k"), 2500)
        XCTAssertEqual(parseNumber("1e-7"), 1e-7)
        XCTAssertNil(parseNumber("two"))
        XCTAssertEqual(parseWhole("10M"), 10_000_000)
        XCTAssertNil(parseWhole("2.5"), "not whole")
        XCTAssertEqual(parseMilliseconds("0.5s"), 500)
    }

    func testSuggestionsAreTheNearestWordWithinAThirdOfItsLength() {
        XCTAssertEqual(editDistance("kitten", "sitting"), 3)
        XCTAssertEqual(editDistance("", "abc"), 3)
        XCTAssertEqual(nearest("trian", in: ["train", "eval", "test"]), "train")
        XCTAssertNil(nearest("frobnicate", in: ["train", "eval"]))
        XCTAssertEqual(didYouMean("evl", in: ["eval"]), ", did you mean 'eval'?")
        XCTAssertEqual(didYouMean("xyzzy", in: ["eval"]), "")
    }
}

final class FormattingTests: XCTestCase {
    func testQuantitiesDecimalsAndDurations() {
        XCTAssertEqual(Format.quantity(23_090_000), "23.09M")
        XCTAssertEqual(Format.quantity(405_600), "405.6k")
        XCTAssertEqual(Format.quantity(512), "512")
        XCTAssertEqual(Format.quantity(0.125), "0.125")
        XCTAssertEqual(Format.quantity(2.5e6, exact: true), "2.5M")
        XCTAssertEqual(Format.decimal(2.31228), "2.3123")
        XCTAssertEqual(Format.decimal(3.4e12), "3.4e+12", "a diverging value keeps its column")
        XCTAssertEqual(Format.decimal(.infinity), "inf")
        XCTAssertEqual(Format.fixed(0.97949, 3), "0.979")
        XCTAssertEqual(Format.duration(2.46), "2.5s")
        XCTAssertEqual(Format.duration(187), "3m07s")
        XCTAssertEqual(Format.duration(3900), "1h05m")
        XCTAssertEqual(Format.duration(.nan), "?")
    }

    func testTablesPadAlignAndKeepNotesInPlace() {
        var t = Table([.left("name", 8), .right("n", 5)])
        t.add(["a", "1"])
        t.note("— a note")
        t.add(["a-long-name", "22"])
        XCTAssertEqual(t.lines, ["name        n", "a           1", "— a note", "a-long-name   22"], "a wide cell pushes the rest right")
    }
}

/// A choice family of two kinds, as costs and dataset sources are.
private struct Plain: NamedChoice {
    static let word = "plain", summary = "no options"
    init(_ arguments: inout Arguments) throws {}
}
private struct Sized: NamedChoice {
    static let word = "sized", summary = "a size", arguments = "<n> [scale=1]"
    static let completions = ["scale="]
    var n: Int, scale: Double
    init(_ arguments: inout Arguments) throws {
        n = Int(try arguments.required("a size"))!
        scale = try arguments.double("scale", default: 1)!
    }
}

final class ChoiceCatalogueTests: XCTestCase {
    let catalogue = ChoiceCatalogue("thing", savedUnder: "kind", [Plain.self, Sized.self])

    func testParseUsageHelpAndCompletion() throws {
        var a = try Arguments(command: "use", words: ["4", "scale=2"])
        let sized = try XCTUnwrap(try catalogue.parse("Sized", &a) as? Sized)
        XCTAssertEqual(sized.n, 4)
        XCTAssertEqual(sized.scale, 2)
        XCTAssertEqual(catalogue.words, ["plain", "sized"])
        XCTAssertEqual(catalogue.usage, "plain | sized <n> [scale=1]")
        XCTAssertEqual(catalogue.help(width: 20), "plain               no options\nsized <n> [scale=1] a size")
        XCTAssertEqual(catalogue.completions, ["scale="])
        var b = try Arguments(command: "use", words: [])
        XCTAssertThrowsError(try catalogue.parse("sizd", &b)) { XCTAssertEqual("\($0)", "use: unknown thing 'sizd', did you mean 'sized'? (plain, sized)") }
    }

    func testASavedChoiceRoundTripsWithItsWord() throws {
        struct Box: Codable {
            var thing: any NamedChoice
            static let catalogue = ChoiceCatalogue("thing", savedUnder: "kind", [Plain.self, Sized.self])
            init(_ thing: any NamedChoice) { self.thing = thing }
            init(from decoder: any Decoder) throws { thing = try Self.catalogue.decode(from: decoder) }
            func encode(to encoder: any Encoder) throws { try Self.catalogue.encode(thing, to: encoder) }
        }
        var a = try Arguments(command: "use", words: ["7", "scale=0.5"])
        let data = try JSONEncoder().encode(Box(try catalogue.parse("sized", &a)))
        XCTAssertTrue(String(decoding: data, as: UTF8.self).contains(#""kind":"sized""#))
        let back = try XCTUnwrap(try JSONDecoder().decode(Box.self, from: data).thing as? Sized)
        XCTAssertEqual([Double(back.n), back.scale], [7, 0.5])
        XCTAssertThrowsError(try JSONDecoder().decode(Box.self, from: Data(#"{"kind":"other"}"#.utf8))) {
            XCTAssertTrue("\($0)".contains("unknown thing 'other'"), "\($0)")
        }
    }
}

/// Tables as HTML for the Jupyter kernel: the same cells, escaped, aligned as in the text.
final class HTMLTableTests: XCTestCase {
    func testATableBecomesAnHTMLTableWithItsAlignmentAndNotes() {
        var t = Table([.left("node", 8), .right("params", 8)])
        t.note("before")
        t.add(["A<0>", "480"])
        t.add(["B & C", "1.2k"])
        t.note("… 3 more")
        let html = t.html
        XCTAssertTrue(html.hasPrefix("<table>"))
        XCTAssertTrue(html.contains("<th style=\"text-align:left\">node</th><th style=\"text-align:right\">params</th>"), html)
        XCTAssertTrue(html.contains("<td style=\"text-align:left\">A&lt;0&gt;</td><td style=\"text-align:right\">480</td>"), html)
        XCTAssertTrue(html.contains("B &amp; C"), html)
        // Notes stay where they were, as rows across the table.
        let before = html.range(of: "before")!, first = html.range(of: "A&lt;0&gt;")!, more = html.range(of: "… 3 more")!
        XCTAssertTrue(before.lowerBound < first.lowerBound && first.lowerBound < more.lowerBound)
        XCTAssertTrue(html.contains("<td colspan=\"2\""), html)
    }

    func testBlocksPrintAsTheTextAndRenderAsPreAndTables() {
        var t = Table([.left("a", 4)])
        t.add(["x"])
        let blocks: [Block] = [.text("head"), .table(t), .text(""), .text("tail")]
        XCTAssertEqual(Block.text(blocks), "head\n\na   \nx   \n\ntail")
        XCTAssertEqual(Block.text(blocks, separator: "\n"), "head\na   \nx   \ntail")
        let html = HTML.render(blocks)
        XCTAssertEqual(html.components(separatedBy: "<pre>").count - 1, 2)
        XCTAssertTrue(html.contains("<table>"))
    }
}

/// Sweep grids beyond lists: log-spaced ranges a..b:n and seed counts.
final class GridAxisTests: XCTestCase {
    func testARangeGivesExactlyNLogSpacedValuesWithBothEnds() throws {
        for (a, b, n) in [(1e-8, 1e-6, 5), (2e6, 8e6, 3), (1.0, 1000.0, 4), (5.0, 0.5, 2), (3e-7, 3e-7, 3)] {
            let values = try parseGridAxis("\(a)..\(b):\(n)")
            XCTAssertEqual(values.count, n)
            XCTAssertEqual(values.first, a, "the first end, exactly")
            XCTAssertEqual(values.last, b, "the last end, exactly")
            // Evenly spaced in log scale: every ratio the same.
            let ratio = pow(b / a, 1 / Double(n - 1))
            for k in 1..<n { XCTAssertEqual(values[k] / values[k - 1], ratio, accuracy: 1e-12 * ratio, "\(a)..\(b):\(n) at \(k)") }
        }
        XCTAssertEqual(try parseGridAxis("1e-8..1e-6:3")[1], 1e-7, accuracy: 1e-22)
        XCTAssertEqual(try parseGridAxis("2M..8M:3")[1], 4e6, accuracy: 1e-6)
        XCTAssertEqual(try parseGridAxis("1,2..8:3,16").count, 5, "ranges mix with numbers")
        XCTAssertEqual(try parseGridAxis("1e-7,1e-6"), [1e-7, 1e-6])
    }

    func testABadRangeSaysWhatIsWrong() {
        let cases = ["0..1e-6:3": "above 0", "1..2:1": "2…1000 values", "1..2": "not a range", "x..2:3": "not a range", "1..2:3,y": "'y' is not a number",
                     "-1..2:3": "above 0", "1..2:5000": "2…1000"]
        for (text, fragment) in cases {
            XCTAssertThrowsError(try parseGridAxis(text), text) { XCTAssertTrue("\($0)".contains(fragment), "\(text): \($0)") }
        }
        var a = try! Arguments(command: "sweep", words: ["lambda=0..1:3"])
        XCTAssertThrowsError(try a.numberList("lambda")) { XCTAssertTrue("\($0)".hasPrefix("sweep: lambda= takes numbers ≥ 0"), "\($0)") }
    }

    func testSeedsACountARangeOrAList() throws {
        func seeds(_ v: String) throws -> [UInt64]? {
            var a = try Arguments(command: "sweep", words: ["seeds=\(v)"])
            return try a.seedList("seeds")
        }
        XCTAssertEqual(try seeds("3"), [1, 2, 3])
        XCTAssertEqual(try seeds("1"), [1])
        XCTAssertEqual(try seeds("4..6"), [4, 5, 6])
        XCTAssertEqual(try seeds("0..1"), [0, 1])
        XCTAssertEqual(try seeds("1,5,9"), [1, 5, 9])
        for bad in ["0", "x", "1,x", "6..4", "1001", "-2", "1..5000"] {
            XCTAssertThrowsError(try seeds(bad), bad) { XCTAssertTrue("\($0)".contains("a count N"), "\($0)") }
        }
    }
}
