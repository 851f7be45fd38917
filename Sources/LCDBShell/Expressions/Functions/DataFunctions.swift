import Foundation
import LCDBCore
import LCDBInterop
import LCDBStore

/// Curvature from data: matrices built from per-example gradient files
/// (`GradientFiles`), read a slab of examples at a time.
enum DataFunctions {
    static let all: [FunctionSpec] = [
        FunctionSpec(name: "fisher", parameters: [.init("collection", .collection), .init("files", .text),
                                                  .init("form", .choice(EmpiricalFisher.Form.allCases.map(\.rawValue) + ["lowrank", "full"]), default: .word("diag")),
                                                  .init("weights", .text, default: .word("")),
                                                  .init("nonfinite", .choice(["refuse", "skip"]), default: .word("refuse")), FunctionSpec.dtype],
                     summary: "The empirical Fisher (1/n) Σ g gᵀ from per-example gradients: safetensors files (comma-separated, globs allowed) holding <layer>.weight (n, *weight_shape) and <layer>.bias (n, *bias_shape) for every layer (a Parameter layer: <layer>), as torch.func.vmap(grad(loss)) gives them; shards may differ in n. form=diag keeps Σ g² / n per parameter, form=quasidiag also each output's bias coupled with its weights, Σ g_w[i, j] g_b[i] / n (Ollivier's quasi-diagonal, NNGeometry's PMatQuasiDiag; layers without a bias get their diagonal), form=dense each layer's block Gᵀ G / n (syrk, a layer per core, each block stored by let as soon as it is done; blocks that do not fit in memory together are computed in passes over the files, bands of rows at a time, as let stores them), form=lowrank the whole matrix spanning layers as Jᵀ J with J = G / √n (n x numel, NNGeometry's PMatLowRank; solve, inv and logdet exact through the n x n Gram matrix; a J over 256 MB goes to a temporary file beside the database while it is built and is streamed by panels from then on), form=full every entry of the numel x numel matrix (NNGeometry's PMatDense; small models, refused with its size when it does not fit memory). weights='FILE': per-example weights (a tensor 'weights' of shape (n,) over all shards in order), giving the weighted mean Σ w g gᵀ / Σ w. Read in slabs of examples; files are checked against the collection before any value is read; non-finite gradients are an error naming file, tensor and example and counting all such examples (nonfinite=refuse, the default), or with nonfinite=skip those examples are left out (a first reading finds them; a note says how many and where).",
                     example: "let F = fisher(mlp, 'grads_*.safetensors', form=dense);") { args, evaluator in
            let name = try args.collection("collection")
            let collection = try evaluator.store.collection(named: name)
            guard case .word(let pattern)? = args.value("files") else { throw args.error("files must be a quoted file name or pattern") }
            var files = try GradientFiles.open(try GradientFiles.paths(matching: pattern), over: collection)
            // The stored size of the chosen form, checked against the disk before any value is read.
            let numels = collection.entries.map { Double($0.layer.numel) }, numel = numels.reduce(0, +)
            let entries: Double = switch args.word("form") {
            case "dense": numels.reduce(0) { $0 + $1 * ($1 + 1) / 2 } // one triangle per block
            case "lowrank": Double(files.examples) * numel
            case "full": numel * numel
            default: numel
            }
            // The full matrix must fit in memory first (FullFisher says so with its size).
            if args.word("form") != "full" { try evaluator.requireRoomIfStored(args, bytes: entries * Double(args.dtype.size)) }
            let weightsFile = args.word("weights") ?? ""
            var weights = weightsFile.isEmpty ? nil : try files.weights(from: weightsFile)
            if args.word("nonfinite") == "skip" {
                // Left out as examples of weight zero, read as zeros.
                let scan = try files.scanNonFinite()
                if !scan.examples.isEmpty {
                    var kept = weights ?? [Double](repeating: 1, count: files.examples)
                    for example in scan.examples { kept[example] = 0 }
                    guard kept.contains(where: { $0 > 0 }) else {
                        throw args.error("no example is left: \(scan.summary(of: files.examples)) hold non-finite gradients\(weights == nil ? "" : ", and the others have weight zero"); nothing was stored")
                    }
                    files.skipped = scan.examples
                    weights = kept
                    evaluator.session.note("fisher: left out \(scan.summary(of: files.examples)) with non-finite gradients")
                }
            }
            if args.word("form") == "lowrank" {
                return .whole(WholeMatrixValue(matrix: try lowRankFisher(files, weights: weights, evaluator), collectionName: name, dtype: args.dtype))
            }
            if args.word("form") == "full" {
                var full = try FullFisher(collection: collection)
                try evaluator.requireRoomIfStored(args, bytes: entries * Double(args.dtype.size))
                let progress = evaluator.session.progressReporter("reading \(files.examples) examples")
                var done = 0, start = 0
                // A slab holds every layer's gradients: about 32 MB of all parameters.
                let slabRows = max(1, min(files.rowsPerSlab(), 32 * 1024 * 1024 / (8 * max(1, collection.numel))))
                try files.forEachSlab(rows: slabRows) { rows, position, _, slab in
                    full.add(rows: rows, position: position, slab: slab, weights: weights?[start ..< start + rows])
                    if position == collection.count - 1 {
                        start += rows
                        done += rows
                        progress?(done, files.examples)
                    }
                }
                return .whole(WholeMatrixValue(matrix: try full.result(), collectionName: name, dtype: args.dtype))
            }
            // Progress in examples read per layer, from whichever thread read them.
            let reporter = evaluator.session.progressReporter("reading \(files.examples) examples")
            var done = 0
            let progress = LayerSplit.synchronized { rows in
                done += rows
                reporter?(done / max(1, collection.count), files.examples)
            }
            if args.word("form") == "dense" {
                // Computed as they are asked for: in passes when the blocks do not
                // fit in memory together, else a layer per core in the background
                // while let stores the finished ones.
                let source: any FisherBlockSource = try FisherPasses.ifNeeded(files, weights: weights)
                    ?? FisherStream(files: files, weights: weights, progress: progress, located: args.located)
                return .matrix(MatrixValue(origin: .passes(source), collection: collection, collectionName: name, dtype: args.dtype, isSymmetric: true))
            }
            let form: EmpiricalFisher.Form = args.word("form") == "quasidiag" ? .quasidiag : .diag
            let rows = files.rowsPerSlab()
            // The diagonal reads a layer too wide for one slab in runs of columns
            // (about 32 MB each; LCDB_SLAB_COLUMNS sets the run, a knob for tests).
            // The quasi-diagonal pairs each weight with its output's bias, at
            // the end of the row: whole rows (a slab per core, checked first).
            let knob = ProcessInfo.processInfo.environment["LCDB_SLAB_COLUMNS"].flatMap(Int.init)
            let columns = form == .quasidiag ? Int.max : max(1, knob ?? 32 * 1024 * 1024 / (8 * rows))
            if form == .quasidiag {
                let widest = Double(collection.entries.map(\.layer.numel).max() ?? 0)
                try MemoryBudget.require(Double(rows) * widest * 8 * 2 * Double(BlockScheduler.cores),
                                         for: "fisher(form=quasidiag) reads whole rows of each layer; a slab of the widest layer on each core")
            }
            // One builder per group of layers, each on its own core (LayerSplit).
            func build(_ layers: Set<Int>?) throws -> EmpiricalFisher {
                var fisher = try EmpiricalFisher(collection: collection, form: form, only: layers)
                var starts = [Int](repeating: 0, count: collection.count)
                try files.forEachSlab(rows: rows, columns: columns, layers: layers) { rows, position, run, slab in
                    let start = starts[position]
                    let layerEnd = run.upperBound == collection.entries[position].layer.numel
                    if layerEnd { starts[position] += rows }
                    fisher.add(rows: rows, position: position, columns: run, slab: slab, weights: weights?[start ..< start + rows])
                    if layerEnd { progress(rows) }
                }
                fisher.finish() // each builder's blocks finished on its own core
                return fisher
            }
            let groups = LayerSplit.groups(costs: collection.entries.map { Double($0.layer.numel) })
            var fisher: EmpiricalFisher
            if groups.count > 1 {
                fisher = try EmpiricalFisher(collection: collection, form: form, only: [])
                for (group, builder) in zip(groups, try LayerSplit.run(groups) { try build($0) }) { fisher.take(group, from: builder) }
            } else {
                fisher = try build(nil)
            }
            return .matrix(FormFunctions.value(try fisher.result(), name, args.dtype))
        },
        FunctionSpec(name: "kfac", parameters: [.init("collection", .collection), .init("files", .text),
                                                .init("positions", .choice(KFACStatistics.Convention.allCases.map(\.rawValue)), default: .word("expand")),
                                                FunctionSpec.dtype],
                     summary: "KFAC from layer statistics: safetensors files (comma-separated, globs allowed) with <layer>.inputs (n, in_eff) or (n, positions, in_eff) and <layer>.output_grads (n, out) or (n, positions, out) for every Linear and Conv layer; A = mean(ã ãᵀ) (a one appended for a bias), G = mean(g gᵀ); with positions, Eschenhagen et al.'s expand (default) or reduce convention (README). Other layers get 0 I: combine with mixed(K, fisher(C, ..., form=dense)).",
                     example: "let K = kfac(mlp, 'stats_*.safetensors');") { args, evaluator in
            let (name, _, kfac) = try kfacFromStatistics(args, evaluator)
            return .matrix(FormFunctions.value(kfac, name, args.dtype))
        },
        FunctionSpec(name: "ekfac", parameters: [.init("collection", .collection), .init("files", .text),
                                                 .init("positions", .choice(KFACStatistics.Convention.allCases.map(\.rawValue)), default: .word("expand")),
                                                 FunctionSpec.dtype],
                     summary: "EKFAC from the same layer statistics as kfac: the KFAC factors' eigenbases, and the exact per-example diagonal D = mean_n (U_Gᵀ M_n U_A)² with M_n = Σ_s g_s ãᵀ_s (NNGeometry's update_diag): two passes over the files.",
                     example: "let E = ekfac(mlp, 'stats_*.safetensors');") { args, evaluator in
            let (name, files, kfac) = try kfacFromStatistics(args, evaluator, pass: "pass 1 of 2")
            // The second pass split between the cores as the first (each thread
            // decomposes its own layers' factors too).
            let diagonal = try splitPass(files, progress: statisticsProgress(files, evaluator, "pass 2 of 2"),
                                         make: { try EKFACDiagonal(kfac: kfac, only: $0) },
                                         add: { $0.add(position: $1, rows: $2, positions: $3, inputs: $4, grads: $5) },
                                         take: { $0.take($1, from: $2) })
            return .matrix(FormFunctions.value(try diagonal.result(), name, args.dtype))
        },
    ]

    /// J = G / √n from the gradient files, a slab of examples and a run of a
    /// layer's columns at a time (the factor is the one large state).
    private static func lowRankFisher(_ files: GradientFiles, weights: [Double]?, _ evaluator: Evaluator) throws -> LowRankMatrix {
        let collection = files.collection
        var fisher = try LowRankFisher(collection: collection, examples: files.examples, spillDirectory: evaluator.store.spillDirectory)
        let progress = evaluator.session.progressReporter("reading \(files.examples) examples")
        var starts = [Int](repeating: 0, count: collection.count)
        var done = 0
        let rows = files.rowsPerSlab()
        let columns = max(1, 32 * 1024 * 1024 / (8 * rows))
        try files.forEachSlab(rows: rows, columns: columns) { rows, position, run, slab in
            let start = starts[position]
            let layerEnd = run.upperBound == collection.entries[position].layer.numel
            try fisher.add(first: start, rows: rows, position: position, columns: run, slab: slab, weights: weights?[start ..< start + rows])
            if layerEnd { starts[position] += rows }
            if position == collection.count - 1, layerEnd {
                done += rows
                progress?(done, files.examples)
            }
        }
        return try fisher.result()
    }

    /// The collection's name, the checked statistics files, and the KFAC
    /// matrix from one pass over them (`kfac`, and `ekfac`'s first pass).
    /// Progress over the statistics files, counted in examples read per layer.
    private static func statisticsProgress(_ files: LayerStatisticsFiles, _ evaluator: Evaluator, _ pass: String) -> (Int) -> Void {
        guard let report = evaluator.session.progressReporter("reading \(files.examples) examples' statistics (\(pass))") else { return { _ in } }
        let total = files.examples * files.layerCount
        var done = 0
        return { rows in
            done += rows
            report(done, total)
        }
    }

    private static func kfacFromStatistics(_ args: CallArguments, _ evaluator: Evaluator, pass: String = "one pass") throws -> (String, LayerStatisticsFiles, StructuredMatrix) {
        let name = try args.collection("collection")
        let collection = try evaluator.store.collection(named: name)
        guard case .word(let pattern)? = args.value("files") else { throw args.error("files must be a quoted file name or pattern") }
        let convention = KFACStatistics.Convention(rawValue: args.word("positions") ?? "expand") ?? .expand
        let files = try LayerStatisticsFiles.open(try GradientFiles.paths(matching: pattern), over: collection)
        let statistics = try splitPass(files, progress: statisticsProgress(files, evaluator, pass),
                                       make: { try KFACStatistics(collection: collection, convention: convention, only: $0) },
                                       add: { try $0.add(position: $1, rows: $2, positions: $3, inputs: $4, grads: $5) },
                                       take: { $0.take($1, from: $2) })
        return (name, files, try statistics.result())
    }

    /// One pass over the statistics files with the layers split between the
    /// cores (`LayerSplit`): a builder per group (`make(layers)`), combined
    /// by `take` into `make([])`; with one core, or one layer, one builder
    /// (`make(nil)`). Serves kfac and both of ekfac's passes.
    private static func splitPass<Builder>(_ files: LayerStatisticsFiles, progress: @escaping (Int) -> Void,
                                           make: @escaping (Set<Int>?) throws -> Builder,
                                           add: @escaping (inout Builder, _ position: Int, _ rows: Int, _ positions: Int,
                                                           _ inputs: [Double], _ grads: [Double]) throws -> Void,
                                           take: (inout Builder, Set<Int>, Builder) -> Void) throws -> Builder {
        let groups = LayerSplit.groups(costs: files.collection.entries.map { KFACStatistics.cost(of: $0.layer) })
        guard groups.count > 1 else {
            var builder = try make(nil)
            try files.forEachSlab(rows: files.rowsPerSlab()) { position, rows, count, inputs, grads in
                try add(&builder, position, rows, count, inputs, grads)
                progress(rows)
            }
            return builder
        }
        let report = LayerSplit.synchronized(progress)
        let builders = try LayerSplit.run(groups) { layers in
            var builder = try make(layers)
            try files.forEachSlab(rows: files.rowsPerSlab(), layers: layers) { position, rows, count, inputs, grads in
                try add(&builder, position, rows, count, inputs, grads)
                report(rows)
            }
            return builder
        }
        var combined = try make([])
        for (group, builder) in zip(groups, builders) { take(&combined, group, builder) }
        return combined
    }
}
