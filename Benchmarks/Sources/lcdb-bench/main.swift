// Benchmark driver for lcdb's own side of each comparison. Prints one line of
// JSON per case: {"case": ..., "median_s": ..., "bytes": ...}. Benchmarks/run
// runs it beside the baselines and reports ratios.
import Foundation
import LCDBCore
import LCDBStore

func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }

func report(_ name: String, _ times: [Double], bytes: Int) {
    print(#"{"case": "\#(name)", "median_s": \#(median(times)), "bytes": \#(bytes)}"#)
}

/// mv over `layers` blocks of `side` parameters each (Parameter(side) layers).
func benchMv(name: String, layers: Int, side: Int, repetitions: Int) throws {
    let collection = try LayerCollection((0 ..< layers).map { ("p\($0)", try Layer.parameter([side])) })
    let matrix = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 1)
    let x = ParameterVector<Double>.random(over: collection, seed: 2)
    var checksum = 0.0
    _ = try matrix.product(with: x) // warm-up
    var times: [Double] = []
    for _ in 0 ..< repetitions {
        times.append(try seconds { checksum += try matrix.product(with: x).values[0] })
    }
    FileHandle.standardError.write("checksum \(checksum)\n".data(using: .utf8)!)
    report(name, times, bytes: matrix.byteCount)
}

/// A plain 1 GiB memory copy: the physical limit for reading block data.
func benchMemcpy(repetitions: Int) {
    let count = 1 << 27 // doubles: 1 GiB
    let source = [Double](repeating: 1, count: count)
    var target = [Double](repeating: 0, count: count)
    var times: [Double] = []
    for _ in 0 ..< repetitions + 1 {
        let t = seconds {
            source.withUnsafeBytes { s in target.withUnsafeMutableBytes { t in
                t.baseAddress!.copyMemory(from: s.baseAddress!, byteCount: s.count)
            } }
        }
        times.append(t)
    }
    report("memcpy", Array(times.dropFirst()), bytes: count * 8)
}

/// Reading 1 GiB once (OpenBLAS asum on all cores): the read bandwidth that
/// a memory-bound product can at best reach.
func benchStreamRead(repetitions: Int) throws {
    let collection = try LayerCollection([("p", .parameter([1 << 27]))])
    let vector = ParameterVector<Double>.ones(over: collection)
    var total = 0.0
    var times: [Double] = []
    // OpenBLAS's dasum itself (vector norms use lcdb's own NaN-propagating loops).
    let count = Int32(collection.numel)
    for _ in 0 ..< repetitions + 1 {
        times.append(seconds { total += vector.values.withUnsafeBufferPointer { Double.asum(count, $0.baseAddress!) } })
    }
    FileHandle.standardError.write("checksum \(total)\n".data(using: .utf8)!)
    report("stream-read", Array(times.dropFirst()), bytes: collection.numel * 8)
}

/// Cholesky of one `side x side` SPD block: lcdb's interruptible panels
/// ("cholesky-panels") against one LAPACK `potrf` call ("cholesky-potrf"), in
/// alternation on copies of the same block.
func benchCholesky(side: Int, repetitions: Int) throws {
    let collection = try LayerCollection([("p", .parameter([side]))])
    let block = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 1).blocks[0]
    var panels: [Double] = [], whole: [Double] = []
    for _ in 0 ..< repetitions {
        var a = block, b = block
        panels.append(try seconds { _ = try a.withUnsafeMutableBufferPointer { try PanelCholesky.factor($0.baseAddress!, side: side) } })
        whole.append(seconds { _ = b.withUnsafeMutableBufferPointer { Double.potrf(Int32(side), $0.baseAddress!) } })
    }
    report("cholesky-panels", panels, bytes: side * side * 8)
    report("cholesky-potrf", whole, bytes: side * side * 8)
    // The inverse from the factor: panels against one LAPACK potri call.
    var factor = block
    _ = try factor.withUnsafeMutableBufferPointer { try PanelCholesky.factor($0.baseAddress!, side: side) }
    var inversePanels: [Double] = [], inverseWhole: [Double] = []
    for _ in 0 ..< repetitions {
        var b = factor
        inversePanels.append(try seconds { _ = try factor.withUnsafeBufferPointer { try PanelCholesky.inverse(fromFactor: $0.baseAddress!, side: side) } })
        inverseWhole.append(seconds { _ = b.withUnsafeMutableBufferPointer { Double.potri(Int32(side), $0.baseAddress!) } })
    }
    report("inverse-panels", inversePanels, bytes: side * side * 8)
    report("inverse-potri", inverseWhole, bytes: side * side * 8)
}

/// `store-general DB`: stores, into the existing lcdb database DB over its
/// collection `w`, a matrix `G` that is
/// not symmetric (2 on the diagonal, 1 just right of it), so it is written in
/// the full layout, whole rows; the shell has no statement that makes such a
/// matrix without reading or computing one. The caller times the process.
func storeGeneral(_ path: String) throws {
    let store = try Store(path: path)
    try store.createMatrix("G", over: "w", as: Double.self, layout: .full, symmetric: false, replace: true) {
        _, side, rows, columns, target in
        UnsafeMutableRawPointer(target).initializeMemory(as: UInt8.self, repeating: 0, count: rows.count * columns.count * 8)
        for row in rows {
            target[(row - rows.lowerBound) * columns.count + row] = 2
            if row + 1 < side { target[(row - rows.lowerBound) * columns.count + row + 1] = 1 }
        }
    }
}

/// The selection step of `eigvals(K, k=100)` on GPT-2 small's KFAC: the 100
/// largest of the 85 million products of each layer's two factor spectra
/// (seeded positive eigenvalues of GPT-2's factor sizes), merged over layers.
func benchKroneckerTop(repetitions: Int) {
    var sizes: [(Int, Int)] = [(50257, 768), (1024, 768)]   // wte, wpe: A diagonal, G
    for _ in 0 ..< 12 { sizes += [(2304, 769), (768, 769), (3072, 769), (768, 3073)] }
    var generator = SeededGenerator(seed: 7)
    let spectra = sizes.map { left, right in
        ((0 ..< left).map { _ in generator.nextUniform() + 0.01 }, (0 ..< right).map { _ in generator.nextUniform() + 0.01 })
    }
    var checksum = 0.0
    var times: [Double] = []
    for _ in 0 ..< repetitions {
        times.append(seconds {
            var kept: [Double] = []
            for (a, b) in spectra { kept += BlockSpectrum.kronecker(a, b).extremes(100, largest: true) }
            checksum += kept.sorted(by: >).prefix(100).reduce(0, +)
        })
    }
    FileHandle.standardError.write("checksum \(checksum)\n".data(using: .utf8)!)
    report("kronecker-top", times, bytes: spectra.reduce(0) { $0 + $1.0.count * $1.1.count })
}

// The same kernels as the lcdb binary (see OpenBLASKernels).
OpenBLASKernels.useNativeKernels()
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.first == "store-general", arguments.count == 2 {
    try storeGeneral(arguments[1])
    exit(0)
}
let repetitions = 10
for argument in arguments.isEmpty ? ["mv-large", "mv-small", "memcpy", "stream-read"] : arguments {
    switch argument {
    case "mv-large": try benchMv(name: "mv-large", layers: 8, side: 4096, repetitions: repetitions)
    case "mv-small": try benchMv(name: "mv-small", layers: 2000, side: 64, repetitions: repetitions * 10)
    case "memcpy": benchMemcpy(repetitions: repetitions)
    case "stream-read": try benchStreamRead(repetitions: repetitions)
    case "cholesky": try benchCholesky(side: 4000, repetitions: 5)
    case "kronecker-top": benchKroneckerTop(repetitions: 5)
    default:
        FileHandle.standardError.write("unknown case \(argument)\n".data(using: .utf8)!)
        exit(2)
    }
}
