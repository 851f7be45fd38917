import Foundation
import Testing

/// Element-wise math on vectors against NumPy on the same exported values,
/// including NaN, ±inf, ±0 and negatives, in float64 and float32: results
/// equal entry for entry (NaN where NumPy has NaN), exp and log within 4
/// units in the last place (libm and NumPy's SIMD versions may round
/// differently), reductions within 1e-12 (float64) and 1e-6 (float32) relative.
@Suite(.serialized)
struct ElementWiseTests {
    let scratch: ScratchFolder
    var folder: URL { scratch.url }

    init() throws { scratch = try ScratchFolder("lcdb-elementwise") }

    static let operations: [(name: String, expression: String, numpy: String)] = [
        ("abs", "abs(x)", "np.abs(x)"),
        ("sqrt", "sqrt(x)", "np.sqrt(x)"),
        ("square", "square(x)", "np.square(x)"),
        ("exp", "exp(x)", "np.exp(x)"),
        ("log", "log(x)", "np.log(x)"),
        ("sign", "sign(x)", "np.sign(x)"),
        ("clip", "clip(x, -1, 0.5)", "np.clip(x, -1, 0.5)"),
        ("maximum", "maximum(x, y)", "np.maximum(x, y)"),
        ("minimum", "minimum(x, 0)", "np.minimum(x, 0)"),
        ("product", "x * y", "x * y"),
        ("quotient", "x / y", "x / y"),
        ("reciprocal", "1 / x", "1 / x"),
        ("halved", "x / 2", "x / 2"),
        ("shifted", "x + 1.5", "x + 1.5"),
        ("from_one", "1 - x", "1 - x"),
        ("greater", "x > y", "(x > y).astype(x.dtype)"),
        ("at_most", "x <= 0", "(x <= 0).astype(x.dtype)"),
        ("equal", "x == y", "(x == y).astype(x.dtype)"),
        ("unequal", "x != x", "(x != x).astype(x.dtype)"),
        ("masked", "where(x > 0, x, 0)", "np.where(x > 0, x, 0).astype(x.dtype)"),
        ("picked", "where(x < y, y, x)", "np.where(x < y, y, x)"),
    ]

    @Test(arguments: ["float64", "float32"])
    func everyFunctionAgreesWithNumPy(dtype: String) throws {
        let db = folder.appendingPathComponent("e-\(dtype).lcdb").path
        // x holds NaN (0 / 0), +inf, -inf (±1 / 0), ±0 and negatives; y is another draw.
        var statements = """
            create collection c (fc Linear(6, 5), ln LayerNorm(5), p Parameter(7));
            let z = zeros(c, dtype=\(dtype));
            let g = randn(c, seed=1, dtype=\(dtype));
            let x = where(g > 1.2, 0 / z, where(g < -1.2, -1 / z, where(abs(g) < 0.05, z, 3 * g)));
            let x = where(g > 0.9, where(g < 1.2, 1 / z, x), x);
            let x = where(abs(g) < 0.05, where(g < 0, -1 * z, z), x);
            let y = randn(c, seed=2, dtype=\(dtype));
            export vector x to 'x.safetensors';
            export vector y to 'y.safetensors';

            """
        for operation in Self.operations {
            statements += "let r_\(operation.name) = \(operation.expression);\nexport vector r_\(operation.name) to 'r_\(operation.name).safetensors';\n"
        }
        statements += "sum(y); mean(y); max(y); min(y); max(x); min(y - y);\nargmax(y); argmin(y); argmax(x);\n"
        let out = try LCDBProcess.run(["--no-init", "--format", "csv", db, "-c", statements], in: folder)
        #expect(out.status == 0, "\(out.stderr)")
        let operations = Self.operations.map { "(\"\($0.name)\", \"\($0.numpy)\")" }.joined(separator: ", ")
        let python = """
            import numpy as np
            from safetensors.numpy import load_file
            def flat(name):
                tensors = load_file(name + ".safetensors")
                return np.concatenate([tensors[k].ravel() for k in ["fc.weight", "fc.bias", "ln.weight", "ln.bias", "p"]])
            x, y = flat("x"), flat("y")
            assert x.dtype == np.\(dtype) and np.isnan(x).any() and np.isposinf(x).any() and np.isneginf(x).any()
            assert (x == 0).any() and np.signbit(x[x == 0]).any() and (x < 0).any()
            with np.errstate(all="ignore"):
                for name, expression in [\(operations)]:
                    got, want = flat("r_" + name), eval(expression)
                    assert got.dtype == want.dtype, (name, got.dtype, want.dtype)
                    assert np.array_equal(np.isnan(got), np.isnan(want)), name
                    ok = ~np.isnan(want)
                    if name in ("exp", "log"):
                        finite = ok & np.isfinite(want)
                        assert np.array_equal(got[ok & ~finite], want[ok & ~finite]), name
                        assert np.all(np.abs(got[finite] - want[finite]) <= 4 * np.abs(np.spacing(want[finite]))), name
                    else:
                        assert np.array_equal(got[ok], want[ok]), (name, got[ok][got[ok] != want[ok]], want[ok][got[ok] != want[ok]])
            lines = open("out.csv").read().split("\\n")
            values = [float(lines[i + 1]) for i, line in enumerate(lines) if line == "value"]
            rtol = 1e-12 if x.dtype == np.float64 else 1e-6
            want = [y.sum(dtype=np.float64), y.mean(dtype=np.float64), y.max(), y.min(), np.max(x), np.min(y - y)]
            assert np.isnan(values[4]) and np.isnan(want[4])
            for got, expected in zip(values[:4] + values[5:], want[:4] + want[5:]):
                assert abs(got - expected) <= rtol * abs(expected), (got, expected)
            import csv
            tables = [next(csv.reader([lines[i + 1]])) for i, line in enumerate(lines) if line == "index,value,layer,parameter"]
            assert [int(t[0]) for t in tables] == [int(np.argmax(y)), int(np.argmax(-y)), int(np.argmax(x))], tables
            # Each flat index's layer and parameter, in lcdb's flattening (weight row-major, then bias).
            names = [("fc", f"fc.weight[{i}, {j}]") for i in range(5) for j in range(6)] + [("fc", f"fc.bias[{i}]") for i in range(5)]
            names += [("ln", f"ln.weight[{i}]") for i in range(5)] + [("ln", f"ln.bias[{i}]") for i in range(5)] + [("p", f"p[{i}]") for i in range(7)]
            for index, _, layer, parameter in tables:
                assert (layer, parameter) == names[int(index)], (index, layer, parameter, names[int(index)])
            print("python ok")
            """
        try out.stdout.write(to: folder.appendingPathComponent("out.csv"), atomically: true, encoding: .utf8)
        let py = try LCDBProcess.run(["-c", python], in: folder, executableOverride: "/usr/bin/env", prefixArguments: ["python3"])
        #expect(py.stdout == "python ok\n", "\(py.stdout)\(py.stderr)")
    }

    @Test func badElementWiseInputIsAnError() throws {
        let db = folder.appendingPathComponent("b.lcdb").path
        let made = try LCDBProcess.run(["--no-init", db, "-c", """
            create collection a (fc Linear(2, 2));
            create collection b (fc Linear(2, 3));
            let u = ones(a);
            let v = ones(b);
            """], in: folder)
        #expect(made.status == 0, "\(made.stderr)")
        let cases: [(String, String)] = [
            ("u / v;", "-c:1:3: error: division: the operands are over different collections"),
            ("u * v;", "element-wise product: the operands are over different collections"),
            ("u > v;", "comparison >: the operands are over different collections"),
            ("maximum(u, v);", "maximum: the operands are over different collections"),
            ("where(u > 0, u, v);", "where: the operands are over different collections"),
            ("clip(u, 1, 0);", "clip: low (1) is above high (0)"),
            ("u < 1 < 2;", "comparisons do not chain (< then <); combine two masks with *"),
            ("sqrt(a);", "sqrt: x must be a vector or a number, not a collection"),
            ("u ! 2;", "unexpected character '!'"),
        ]
        for (statement, message) in cases {
            let out = try LCDBProcess.run(["--no-init", db, "-c", statement], in: folder)
            #expect(out.status == 1 && out.stderr.contains(message), "\(statement): \(out.stderr)")
        }
    }
}
