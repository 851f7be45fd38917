import Testing
@testable import LCDBShell
import LCDBCore

/// The parts of the shell that are pure logic: splitting input into
/// statements, and completion.
struct StatementSplitterTests {
    @Test func aSemicolonInsideQuotesOrCommentsDoesNotEndAStatement() {
        var splitter = StatementSplitter()
        #expect(splitter.feed("create collection \"a;b\" (x Linear(1, 1)) -- done; not yet").isEmpty)
        #expect(splitter.isInsideStatement)
        let pieces = splitter.feed(");")
        #expect(pieces.map(\.text) == ["create collection \"a;b\" (x Linear(1, 1)) -- done; not yet\n)"])
        #expect(!splitter.isInsideStatement)
    }

    @Test func severalStatementsOnOneLineKeepTheirColumns() {
        var splitter = StatementSplitter()
        let pieces = splitter.feed("list vectors; list matrices;")
        #expect(pieces.map(\.text) == ["list vectors", " list matrices"])
        #expect(pieces.map(\.start) == [SourceLocation(line: 1, column: 1), SourceLocation(line: 1, column: 14)])
    }

    @Test func metaCommandsOnlyAtTheStartOfAStatement() {
        var splitter = StatementSplitter()
        #expect(splitter.feed("  .format csv").map(\.isMetaCommand) == [true])
        #expect(splitter.feed("show").isEmpty)
        #expect(splitter.feed(".5 * x;").map(\.isMetaCommand) == [false], "a line starting with '.' inside a statement continues it")
    }

    @Test func commentOnlyInputIsNoStatement() {
        var splitter = StatementSplitter()
        #expect(splitter.feed("-- nothing here; really").isEmpty)
        #expect(!splitter.isInsideStatement)
        #expect(splitter.finish() == nil)
        #expect(splitter.feed("numel(c)").isEmpty)
        #expect(splitter.finish()?.text == "numel(c)", "a last statement without ';' still runs")
    }

    /// A 10,000-line statement comes out whole, once, with its start; lines
    /// holding quotes, comments and ';' inside them keep their meaning.
    @Test func aLongStatementSplitsExactlyOnce() {
        var splitter = StatementSplitter()
        let lines = ["create collection big ("] + (0 ..< 10_000).map { "    \"l;\($0)\" Linear(4, 4), -- layer \($0); not the end" } + ["    last Linear(1, 1)", "); numel(big);"]
        var pieces: [StatementSplitter.Piece] = []
        for line in lines { pieces += splitter.feed(line) }
        #expect(pieces.count == 2)
        #expect(pieces.first?.text == lines.joined(separator: "\n").replacingOccurrences(of: "); numel(big);", with: ")"))
        #expect(pieces.first?.start == SourceLocation(line: 1, column: 1))
        #expect(pieces.last?.text == " numel(big)" && pieces.last?.start == SourceLocation(line: 10_003, column: 3))
        #expect(!splitter.isInsideStatement)
    }

    @Test func multiByteTextKeepsItsColumns() {
        var splitter = StatementSplitter()
        let pieces = splitter.feed("show \"réseau ✓\"; show g;")
        #expect(pieces.map(\.text) == ["show \"réseau ✓\"", " show g"])
        #expect(pieces.last?.start == SourceLocation(line: 1, column: 17))
    }
}

struct CompleterTests {
    let completer = Completer(names: .init(collections: ["mlp", "resnet18"], vectors: ["grad"], matrices: ["fisher"],
                                           layers: ["mlp": ["fc1", "fc2"]]))

    @Test func statementKeywordsAtTheStart() {
        #expect(completer.complete(pending: "", line: "cr").candidates == ["create"])
        #expect(completer.complete(pending: "", line: "").candidates.contains("let"))
        #expect(completer.complete(pending: "", line: ".fo").candidates == [".format"])
    }

    @Test func namesWhereANameGoes() {
        #expect(completer.complete(pending: "", line: "show ").candidates == ["fisher", "grad", "mlp", "resnet18"])
        #expect(completer.complete(pending: "", line: "parameters re").candidates == ["resnet18"])
        #expect(completer.complete(pending: "", line: "drop matrix f").candidates == ["fisher"])
        #expect(completer.complete(pending: "", line: "alter collection mlp drop f").candidates == ["fc1", "fc2"])
    }

    @Test func layerKindsAndHyperparameters() {
        #expect(completer.complete(pending: "create collection n (", line: "fc1 Li").candidates == ["Linear("])
        #expect(completer.complete(pending: "", line: "alter collection mlp add fc3 Linear(10, 10, bi").candidates == ["bias="])
        #expect(completer.complete(pending: "", line: "create collection n (c Conv2d(3, 8, ker").candidates == ["kernel_size="])
    }

    /// In a select: views after from, their columns elsewhere.
    @Test func sqlQueriesCompleteViewsAndColumns() {
        let sql = Completer(names: .init(views: ["matrices": ["name", "representation", "bytes"], "layers": ["name", "numel", "kind"]]))
        #expect(sql.complete(pending: "", line: "select * from ma").candidates == ["matrices"])
        #expect(sql.complete(pending: "", line: "select * from ").candidates == ["layers", "matrices"])
        #expect(sql.complete(pending: "", line: "select rep").candidates == ["representation"])
        #expect(sql.complete(pending: "", line: "select name from layers where nu").candidates == ["numel"])
        #expect(sql.complete(pending: "", line: "select name from layers where rep").candidates.isEmpty, "matrices' columns only after matrices is named")
        #expect(sql.complete(pending: "", line: "se").candidates == ["select"])
    }

    @Test func namesThatNeedQuotesAreCompletedQuoted() {
        let quoted = Completer(names: .init(collections: ["my net", "mlp"], vectors: ["g\"x"]))
        #expect(quoted.complete(pending: "", line: "show \"my").candidates == ["\"my net\""])
        #expect(quoted.complete(pending: "", line: "show \"my n").word == "\"my n")
        #expect(quoted.complete(pending: "", line: "show m").candidates == ["mlp"])
        #expect(quoted.complete(pending: "", line: "show ").candidates == ["\"g\"\"x\"", "\"my net\"", "mlp"])
    }

    @Test func argumentsFollowTheirContext() {
        #expect(completer.complete(pending: "", line: ".format ").candidates == ["csv", "json", "table"])
        #expect(completer.complete(pending: "", line: ".timer o").candidates == ["off", "on"])
        #expect(completer.complete(pending: "", line: "help ").candidates.contains("merge"))
        #expect(completer.complete(pending: "", line: "help ").candidates.contains(".read"))
        // After a complete word nothing is offered; after an operator, values are.
        #expect(completer.complete(pending: "", line: "show mlp ").candidates.isEmpty)
        #expect(completer.complete(pending: "", line: "norm(grad) ").candidates.isEmpty)
        #expect(completer.complete(pending: "", line: "let x = grad + ").candidates.contains("fisher"))
        // Arguments already given are not offered again.
        let conv = completer.complete(pending: "", line: "create collection n (c Conv2d(3, 4, ").candidates
        #expect(!conv.contains("in_channels=") && !conv.contains("out_channels=") && conv.contains("kernel_size="))
        let named = completer.complete(pending: "", line: "create collection n (c Linear(2, 3, bias=false, ").candidates
        #expect(!named.contains("bias=") && !named.contains("in_features="))
    }

    @Test func functionsAndObjectsInExpressions() {
        let candidates = completer.complete(pending: "", line: "let x = so").candidates
        #expect(candidates == ["solve("])
        // The stored matrix fisher, and the function fisher( that builds one from gradient files.
        #expect(completer.complete(pending: "", line: "trace(fi").candidates == ["fisher", "fisher("])
    }
}

/// The exact-symmetry check that decides whether an imported matrix keeps one triangle.
struct SymmetryCheckTests {
    @Test func everyOffDiagonalPairIsCompared() {
        let side = 130 // two whole 64 x 64 squares and a ragged third
        var block = [Double](repeating: 0, count: side * side)
        for i in 0 ..< side {
            for j in i ..< side { (block[i * side + j], block[j * side + i]) = (Double(i * 1000 + j), Double(i * 1000 + j)) }
        }
        #expect(SymmetryCheck.isSymmetric(block, side: side))
        var diagonal = block
        diagonal[77 * side + 77] = -1
        #expect(SymmetryCheck.isSymmetric(diagonal, side: side)) // the diagonal has no partner
        for (i, j) in [(0, 1), (1, 0), (63, 64), (64, 63), (129, 3), (3, 129), (128, 129), (129, 128), (70, 2)] {
            var changed = block
            changed[i * side + j] += 0.5
            #expect(!SymmetryCheck.isSymmetric(changed, side: side), "(\(i), \(j))")
        }
    }
}

/// "Did you mean": cheap whatever the names' length.
struct NameSuggesterTests {
    @Test func closeNamesAreSuggested() {
        #expect(NameSuggester.suggestions(for: "resnet_smal", among: ["resnet_small", "mlp"]) == ["resnet_small"])
        #expect(NameSuggester.suggestions(for: "fc1", among: ["cf1", "fc2", "zzz"]) == ["cf1", "fc2"])
    }

    @Test func longNamesGetNoSuggestionAndCostNothing() {
        let long = String(repeating: "a", count: 100_000)
        #expect(NameSuggester.suggestions(for: long + "b", among: [long]).isEmpty)
        #expect(NameSuggester.suggestions(for: "ab", among: [long]).isEmpty)
    }
}

/// Tables and error carets align by terminal columns (item 13 of issue 12).
struct TerminalWidthTests {
    @Test func wideAndZeroWidthCharacters() {
        #expect(TerminalWidth.of("abc") == 3)
        #expect(TerminalWidth.of("日本") == 4)
        #expect(TerminalWidth.of("🔥net") == 5)
        #expect(TerminalWidth.of("👩‍👩‍👧") == 2, "a ZWJ family is one grapheme, two columns")
        #expect(TerminalWidth.of("e\u{301}") == 1, "a combining accent takes no column")
        #expect(TerminalWidth.of("\u{2764}\u{FE0F}") == 2, "VS16 makes a text symbol an emoji")
        #expect(TerminalWidth.of("\u{2764}") == 1)
    }

    @Test func tableColumnsLineUpWithWideNames() {
        let table = ResultTable(columns: ["name", "numel"], rows: [[.text("日本"), .integer(2)], [.text("🔥net"), .integer(12)], [.text("plain"), .integer(3)]])
        let lines = OutputFormat.table.render(table).split(separator: "\n").map(String.init)
        // Every row's numel ends at the same terminal column.
        let ends = lines.filter { !$0.hasPrefix("-") }.map { TerminalWidth.of($0) }
        #expect(Set(ends).count == 1, "\(lines)")
    }

    @Test func caretsCountWideCharactersTwice() {
        let (line, caret) = Shell.excerpt("show 日本 + 1 1;", column: 13)
        #expect(line == "show 日本 + 1 1;")
        #expect(caret == 14, "5 columns of 'show ', 4 of the name, 5 of ' + 1 '")
    }
}
