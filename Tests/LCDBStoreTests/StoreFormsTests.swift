import Foundation
import GRDB
import LCDBCore
import Testing
@testable import LCDBStore

/// Matrices of structured blocks in the store: written part by part, read
/// back exactly, copied, dropped, listed and checked.
struct StoreFormsTests {
    static func collection() throws -> LayerCollection {
        try LayerCollection([
            ("wte", Layer(.embedding, [.int(9), .int(4)])),
            ("ln", .layerNorm([4])),
            ("fc", .linear(4, 3)),
            ("conv", .conv2d(2, 3, kernelSize: (2, 2), bias: false)),
        ])
    }

    static func denseBlocks(_ m: StructuredMatrix) -> [[Double]] { m.blocks.map { $0.dense().values } }

    @Test(arguments: StoreLocation.allCases)
    func structuredMatricesRoundTripExactly(location: StoreLocation) throws {
        let folder = try TemporaryFolder()
        // Small tiles: every part spans several tiles.
        let store = try location.open(in: folder, tileBytes: 96)
        let collection = try Self.collection()
        try store.createCollection("net", collection)
        let kfac = try StructuredMatrix.randomKFAC(over: collection, seed: 4)
        try store.saveStructured("K", over: "net", kfac, dtype: .float64)
        let loaded = try store.loadStructured(named: "K")
        #expect(loaded.representation == "mixed")
        #expect(loaded.blocks.map(\.kind) == [.kfac, .dense, .kfac, .kfac])
        #expect(Self.denseBlocks(loaded) == Self.denseBlocks(kfac), "float64 parts come back bit for bit")
        // ekfac (inverse), diag and identity forms too.
        let inverse = try kfac.inverse(regularization: 0.5)
        try store.saveStructured("Ki", over: "net", inverse, dtype: .float64)
        #expect(Self.denseBlocks(try store.loadStructured(named: "Ki")) == Self.denseBlocks(inverse))
        let diagonal = try kfac.diagonalMatrix()
        try store.saveStructured("D", over: "net", diagonal, dtype: .float32)
        let diagonal32 = try store.loadStructured(named: "D")
        #expect(diagonal32.representation == "diag")
        #expect(zip(try diagonal32.diagonal().values, try diagonal.diagonal().values).allSatisfy { $0 == Double(Float($1)) })
        let identity = try StructuredMatrix(collection: collection, blocks: collection.entries.map { IdentityForm(side: $0.layer.numel, scale: 2) })
        try store.saveStructured("I2", over: "net", identity, dtype: .float64)
        #expect(try store.loadStructured(named: "I2").trace() == 2 * Double(collection.numel))
        #expect(try store.matrixSummaries().map(\.representation) == ["diag", "identity", "mixed", "mixed"])
        // Listing: forms and part shapes.
        let blocks = try store.blocks(of: "K")
        #expect(blocks.map(\.form) == [.kfac, .dense, .kfac, .kfac])
        #expect(blocks[0].parts == "A (9,), G (4, 4)" && blocks[2].parts == "A (5, 5), G (3, 3)" && blocks[1].parts == "block (8, 8)")
        #expect(try store.check().isEmpty)
        // Copy keeps every row; drop removes every row.
        try store.copyMatrix("K", to: "K2")
        #expect(Self.denseBlocks(try store.loadStructured(named: "K2")) == Self.denseBlocks(kfac))
        for name in ["K", "K2", "Ki", "D", "I2"] { try store.dropMatrix(name) }
        let left = try store.read { db in
            try ["lcdb_matrix_block", "lcdb_matrix_part", "lcdb_matrix_tile"].map { try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)") ?? -1 }
        }
        #expect(left == [0, 0, 0])
    }

    @Test func denseOperationsRefuseStructuredMatricesClearly() throws {
        let folder = try TemporaryFolder()
        let store = try StoreLocation.memory.open(in: folder)
        let collection = try Self.collection()
        try store.createCollection("net", collection)
        try store.saveStructured("K", over: "net", try StructuredMatrix.randomKFAC(over: collection, seed: 1), dtype: .float32)
        #expect(throws: StoreError(.mismatch, "matrix 'K' is mixed, not dense blocks; this operation reads dense blocks (convert with to_dense(K))")) {
            _ = try store.trace("K")
        }
    }

    /// A store on disk with small tiles (every part spans several) and
    /// collection "net" (with a `big` layer whose product is more than a
    /// core's share, so it runs alone, OpenBLAS threaded), and a random
    /// kfac matrix over it, not stored.
    static func storeForProducts(in folder: TemporaryFolder, dominantBlock: Bool) throws -> (Store, LayerCollection, StructuredMatrix) {
        let store = try StoreLocation.disk.open(in: folder, tileBytes: 96)
        var layers = try collection().entries.map { ($0.name, $0.layer) }
        if dominantBlock { layers.append(("big", try .linear(40, 30))) }
        let collection = try LayerCollection(layers)
        try store.createCollection("net", collection)
        return (store, collection, try StructuredMatrix.randomKFAC(over: collection, seed: 4))
    }

    /// `mv` on a stored matrix in forms (parts read into reused buffers,
    /// blocks shared between worker threads, a dominant block alone) equals
    /// the product of the same matrix loaded whole: every form, float64 and
    /// float32, factors kept as one triangle (`dsymm` on the upper triangle)
    /// and general ones (a kfac x kfac product's `G G'` is not symmetric).
    @Test(arguments: [false, true])
    func storedProductsEqualTheLoadedMatrixs(dominantBlock: Bool) throws {
        let folder = try TemporaryFolder()
        let (store, collection, kfac) = try Self.storeForProducts(in: folder, dominantBlock: dominantBlock)
        let other = try StructuredMatrix.randomKFAC(over: collection, seed: 5)
        let product = try StructuredMatrix(collection: collection, blocks: zip(kfac.blocks, other.blocks).map { $0.times($1)! })
        let identity = try StructuredMatrix(collection: collection, blocks: collection.entries.map { IdentityForm(side: $0.layer.numel, scale: 2) })
        let matrices: [(String, StructuredMatrix, DType)] = [
            ("K", kfac, .float64), ("K32", kfac, .float32), ("KK", product, .float64),
            ("Ki", try kfac.inverse(regularization: 0.5), .float64), ("D", try kfac.diagonalMatrix(), .float32), ("I2", identity, .float64),
        ]
        let x = ParameterVector<Double>.random(over: collection, seed: 9)
        for (name, matrix, dtype) in matrices {
            try store.saveStructured(name, over: "net", matrix, dtype: dtype)
            let expected = try store.loadStructured(named: name).product(with: x).values
            let stored = try store.formsProduct(name, x).values
            let error = zip(stored, expected).map { abs($0 - $1) }.max()! / expected.map(abs).max()!
            #expect(error < 1e-12, "\(name): relative error \(error)")
        }
        #expect(try store.blocks(of: "KK").contains { $0.form == .kfac }, "the product keeps kfac blocks")
    }

    /// A reduction of M x computed block by block (`norm(mv(K, g))`,
    /// `vtmv(K, g)`, M x never held whole) equals the same reduction of the
    /// whole product, written out here as plain loops: every form, x stored
    /// (float64 and float32) or in memory; with a float32 matrix and a
    /// float32 vector the product is rounded to float32 first (its dtype).
    /// Tolerance 1e-12 relative (only the order of the sums differs).
    @Test(arguments: [false, true])
    func reducedProductsEqualTheReductionsOfTheWholeProduct(dominantBlock: Bool) throws {
        let folder = try TemporaryFolder()
        let (store, collection, kfac) = try Self.storeForProducts(in: folder, dominantBlock: dominantBlock)
        let matrices: [(String, StructuredMatrix, DType)] = [
            ("K", kfac, .float64), ("K32", kfac, .float32),
            ("Ki", try kfac.inverse(regularization: 0.5), .float64), ("D", try kfac.diagonalMatrix(), .float32),
        ]
        let x = ParameterVector<Double>.random(over: collection, seed: 9)
        let x32 = x.values.map { Double(Float($0)) }
        try store.saveVector("x", over: "net", .float64(x))
        try store.saveVector("x32", over: "net", .float32(try ParameterVector(collection: collection, values: x.values.map { Float($0) })))
        func relative(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-300) }
        for (name, matrix, dtype) in matrices {
            try store.saveStructured(name, over: "net", matrix, dtype: dtype)
            let loaded = try store.loadStructured(named: name)
            for (vector, values, vectorDType) in [("x", x.values, DType.float64), ("x32", x32, .float32)] {
                var product = try loaded.product(with: try ParameterVector(collection: collection, values: values)).values
                if dtype == .float32 && vectorDType == .float32 { product = product.map { Double(Float($0)) } }
                let expected: [(ProductReduction, Double)] = [
                    (.norm(.l1), product.reduce(0) { $0 + abs($1) }),
                    (.norm(.l2), product.reduce(0) { $0 + $1 * $1 }.squareRoot()),
                    (.norm(.infinity), product.map(abs).max()!),
                    (.quadraticForm, zip(product, values).reduce(0) { $0 + $1.0 * $1.1 }),
                ]
                for (reduction, value) in expected {
                    let stored = try #require(try store.formsProduct(name, vectorNamed: vector, reducedTo: reduction))
                    #expect(relative(stored, value) < 1e-12, "\(name), \(vector), \(reduction): \(stored) vs \(value)")
                    let inMemory = try store.formsProduct(name, try ParameterVector(collection: collection, values: values),
                                                          xDType: vectorDType, reducedTo: reduction)
                    #expect(relative(inMemory, value) < 1e-12, "\(name), \(vector) in memory, \(reduction): \(inMemory) vs \(value)")
                }
            }
        }
        // A vector over another collection: nil, the caller aligns them.
        try store.createCollection("other", try LayerCollection([("fc", .linear(4, 3))]))
        try store.saveVector("y", over: "other", .float64(.ones(over: try LayerCollection([("fc", .linear(4, 3))]))))
        #expect(try store.formsProduct("K", vectorNamed: "y", reducedTo: .norm(.l2)) == nil)
    }

    /// A block with independent segments (the Embedding's kfac block, its
    /// A diagonal, and its ekfac inverse, U_A diagonal) goes in pieces of
    /// whole rows, each read (its share of a stored vector too, across the
    /// vector's 12-value chunks, and its rows of D and of the diagonal,
    /// across their tiles of 3 rows) and multiplied on its own: `mv` and its
    /// reductions equal the loaded matrix's, 1e-12 relative, for pieces of
    /// 1, 2 and 5 rows and the default (one piece here); the other blocks
    /// are whole items.
    @Test(arguments: [4, 8, 20, nil])
    func blocksWithSegmentsGoInPieces(pieceValues: Int?) throws {
        let folder = try TemporaryFolder()
        let (store, collection, kfac) = try Self.storeForProducts(in: folder, dominantBlock: false)
        let x = ParameterVector<Double>.random(over: collection, seed: 9)
        try store.saveVector("x", over: "net", .float64(x))
        try store.saveVector("x32", over: "net", .float32(try ParameterVector(collection: collection, values: x.values.map { Float($0) })))
        func relative(_ a: [Double], _ b: [Double]) -> Double { zip(a, b).map { abs($0 - $1) }.max()! / b.map(abs).max()! }
        let inverse = try kfac.inverse(regularization: 0.5)
        #expect(inverse.blocks[0] is EKFACForm && inverse.blocks[0].parts.first { $0.name == "U_A" }?.shape == [9])
        for (name, matrix, dtype) in [("K", kfac, DType.float64), ("K32", kfac, .float32), ("Ki", inverse, .float64), ("Ki32", inverse, .float32)] {
            try store.saveStructured(name, over: "net", matrix, dtype: dtype)
            let loaded = try store.loadStructured(named: name)
            let expected = try loaded.product(with: x).values
            #expect(relative(try store.formsProduct(name, x, pieceValues: pieceValues).values, expected) < 1e-12, "\(name) x in memory")
            let fromStored = try #require(try store.formsProduct(name, vectorNamed: "x", pieceValues: pieceValues))
            #expect(relative(fromStored.product.values, expected) < 1e-12, "\(name) x stored")
            let x32 = try ParameterVector(collection: collection, values: x.values.map { Double(Float($0)) })
            let fromStored32 = try #require(try store.formsProduct(name, vectorNamed: "x32", pieceValues: pieceValues))
            #expect(relative(fromStored32.product.values, try loaded.product(with: x32).values) < 1e-12, "\(name) x32 stored")
            let norm = expected.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let reducedStored = try #require(try store.formsProduct(name, vectorNamed: "x", reducedTo: .norm(.l2), pieceValues: pieceValues))
            #expect(abs(reducedStored - norm) / norm < 1e-12, "\(name) norm, x stored")
            let quadratic = zip(expected, x.values).reduce(0) { $0 + $1.0 * $1.1 }
            let reducedInMemory = try store.formsProduct(name, x, xDType: .float64, reducedTo: .quadraticForm, pieceValues: pieceValues)
            #expect(abs(reducedInMemory - quadratic) / abs(quadratic) < 1e-12, "\(name) vtmv, x in memory")
        }
        // The items: wte (9 rows of 4) in pieces of whole rows, in order; the rest whole.
        for name in ["K", "Ki"] {
            let items = try store.read { db in
                let matrix = try Store.matrixRow(db, name: name, anyForm: true)
                let layouts = try Store.blockLayouts(db, matrix)
                return Store.productItems(layouts, types: layouts.map { BlockForms.type(of: $0.form) }, collection, pieceValues: pieceValues)
            }
            let rows = pieceValues.map { $0 / 4 } ?? 9
            let wte = stride(from: 0, to: 9, by: rows).map { ProductItem(position: 0, values: $0 * 4 ..< min(9, $0 + rows) * 4) }
            let others = (1 ..< collection.count).map { ProductItem(position: $0, values: 0 ..< collection.range(at: $0).count) }
            #expect(items == wte + others, "\(name)")
        }
    }

    /// `solve` on a stored matrix in forms, a block at a time (blocks read
    /// on one thread, solved on the workers, a dominant block alone), equals
    /// the solve of the same matrix loaded whole: every form, float64 and
    /// float32; within 1e-12 relative (each block's solve is the same call),
    /// and M s + regul s gives x back.
    @Test(arguments: [false, true])
    func streamedSolvesEqualTheLoadedMatrixs(dominantBlock: Bool) throws {
        let folder = try TemporaryFolder()
        let (store, collection, kfac) = try Self.storeForProducts(in: folder, dominantBlock: dominantBlock)
        let identity = try StructuredMatrix(collection: collection, blocks: collection.entries.map { IdentityForm(side: $0.layer.numel, scale: 2) })
        let matrices: [(String, StructuredMatrix, DType)] = [
            ("K", kfac, .float64), ("K32", kfac, .float32), ("Ki", try kfac.inverse(regularization: 0.5), .float64),
            ("D", try kfac.diagonalMatrix(), .float32), ("I2", identity, .float64),
        ]
        let x = ParameterVector<Double>.random(over: collection, seed: 9)
        let regularization = 0.3
        for (name, matrix, dtype) in matrices {
            try store.saveStructured(name, over: "net", matrix, dtype: dtype)
            let expected = try store.loadStructured(named: name).solve(x, regularization: regularization).values
            let streamed = try store.formsSolve(name, x, regularization: regularization)
            let error = zip(streamed.values, expected).map { abs($0 - $1) }.max()! / expected.map(abs).max()!
            #expect(error < 1e-12, "\(name): relative error \(error) against the loaded matrix's solve")
            let back = try store.formsProduct(name, streamed).values
            let residual = zip(zip(back, streamed.values), x.values).map { abs($0.0 + regularization * $0.1 - $1) }.max()!
            #expect(residual / x.values.map(abs).max()! < 1e-10, "\(name): residual \(residual)")
        }
        // A singular block: the loaded matrix's error, naming the first such layer.
        let singular = #expect(throws: (any Error).self) { _ = try store.loadStructured(named: "I2").solve(x, regularization: -2) }
        let streamedSingular = #expect(throws: (any Error).self) { _ = try store.formsSolve("I2", x, regularization: -2) }
        #expect(streamedSingular.map { "\($0)" } == singular.map { "\($0)" })
        #expect(singular.map { "\($0)".contains("'wte'") } == true, "\(String(describing: singular))")
        let other = try LayerCollection([("fc", .linear(4, 3))])
        #expect(throws: StoreError(.mismatch, "solve: the vector is not over the collection of matrix 'K'")) {
            _ = try store.formsSolve("K", .ones(over: other), regularization: 1)
        }
    }

    /// `inv` stored a block at a time (`saveTransformedForms`: blocks read,
    /// inverted on the workers, their tiles written as they come back, the
    /// rows last) stores what `saveStructured` stores for the inverse of the
    /// loaded matrix: the same forms, parts and layouts, values within 1e-12
    /// relative (each block's inverse is the same call), in the source's
    /// dtype. A singular block stores nothing and names the first such
    /// layer in block order; so does a name taken by a vector.
    @Test(arguments: [false, true])
    func inversesStoredABlockAtATimeEqualTheLoadedMatrixs(dominantBlock: Bool) throws {
        let folder = try TemporaryFolder()
        let (store, collection, kfac) = try Self.storeForProducts(in: folder, dominantBlock: dominantBlock)
        let identity = try StructuredMatrix(collection: collection, blocks: collection.entries.map { IdentityForm(side: $0.layer.numel, scale: 2) })
        let mixed = try StructuredMatrix(collection: collection, blocks: collection.entries.indices.map { position in
            position % 2 == 0 ? kfac.blocks[position] : try kfac.diagonalMatrix().blocks[position]
        })
        func describe(_ name: String) throws -> [String] {
            try store.read { db in
                try String.fetchAll(db, sql: """
                    SELECT b.position || ' ' || b.form || ' ' || coalesce(p.part || ' ' || p.shape || ' ' || p.layout, '')
                    FROM lcdb_matrix m JOIN lcdb_matrix_block b ON b.matrix_id = m.id
                    LEFT JOIN lcdb_matrix_part p ON p.matrix_id = b.matrix_id AND p.position = b.position
                    WHERE m.name = ? ORDER BY b.position, p.part
                    """, arguments: [name]) + String.fetchAll(db, sql: "SELECT representation || ' ' || dtype || ' ' || symmetric || ' ' || layout FROM lcdb_matrix WHERE name = ?", arguments: [name])
            }
        }
        for (name, matrix, dtype) in [("K", kfac, DType.float64), ("K32", kfac, .float32), ("M", mixed, .float64), ("I2", identity, .float64)] {
            try store.saveStructured(name, over: "net", matrix, dtype: dtype)
            try store.saveTransformedForms("\(name)i", from: name, dtype: dtype) { block, layer in try block.inverse(regularization: 0.5, layer: layer) }
            try store.saveStructured("\(name)e", over: "net", try store.loadStructured(named: name).inverse(regularization: 0.5), dtype: dtype)
            #expect(try describe("\(name)i") == describe("\(name)e"), "\(name)")
            let (streamed, expected) = (try store.loadStructured(named: "\(name)i"), try store.loadStructured(named: "\(name)e"))
            for (a, b) in zip(streamed.blocks, expected.blocks) {
                for (p, q) in zip(a.parts, b.parts) {
                    let error = zip(p.values, q.values).map { abs($0 - $1) }.max()! / max(q.values.map(abs).max()!, 1e-300)
                    #expect(p.name == q.name && error < 1e-12, "\(name): part \(p.name) differs by \(error)")
                }
            }
        }
        #expect(try store.blocks(of: "Ki").contains { $0.form == .ekfac }, "kfac blocks invert to ekfac")
        // Replacing the source itself reads it whole before it goes.
        try store.saveTransformedForms("K32", from: "K32", dtype: .float32, replace: true) { block, layer in try block.inverse(regularization: 0.5, layer: layer) }
        #expect(try describe("K32") == describe("K32e"))
        // A singular block (2 - 2 = 0): the first such layer, nothing stored.
        let singular = #expect(throws: (any Error).self) {
            try store.saveTransformedForms("bad", from: "I2", dtype: .float64) { block, layer in try block.inverse(regularization: -2, layer: layer) }
        }
        #expect(singular.map { "\($0)".contains("'wte'") } == true, "\(String(describing: singular))")
        try store.saveVector("v", over: "net", .float64(.ones(over: collection)))
        #expect(throws: (any Error).self) {
            try store.saveTransformedForms("v", from: "K", dtype: .float64, replace: true) { block, layer in try block.inverse(regularization: 0.5, layer: layer) }
        }
        let names = try store.read { db in try String.fetchAll(db, sql: "SELECT name FROM lcdb_matrix ORDER BY name") }
        #expect(names == ["I2", "I2e", "I2i", "K", "K32", "K32e", "K32i", "Ke", "Ki", "M", "Me", "Mi"], "\(names)")
        #expect(try store.check().isEmpty, "check finds the stored matrices whole")
    }

    /// A stored kfac factor whose shape does not fit its layer, found by the
    /// worker multiplying it: an error naming the matrix, layer and factor.
    @Test(arguments: [false, true])
    func aDamagedFactorFailsTheProductWithItsName(dominantBlock: Bool) throws {
        let folder = try TemporaryFolder()
        let store = try StoreLocation.disk.open(in: folder)
        var layers = try Self.collection().entries.map { ($0.name, $0.layer) }
        if dominantBlock { layers = [layers[2]] }
        let collection = try LayerCollection(layers)
        try store.createCollection("net", collection)
        try store.saveStructured("K", over: "net", try StructuredMatrix.randomKFAC(over: collection, seed: 1), dtype: .float64)
        try store.write { db in
            // 25 values either way, so the tiles still cover the part.
            try db.execute(sql: "UPDATE lcdb_matrix_part SET shape = '[25]' WHERE part = 'A' AND position = ?", arguments: [dominantBlock ? 0 : 2])
        }
        let x = ParameterVector<Double>.random(over: collection, seed: 2)
        #expect(throws: StoreError(.corrupt, "matrix 'K': layer 'fc': factor A is missing or not 5 x 5")) {
            _ = try store.formsProduct("K", x)
        }
        try store.saveVector("x", over: "net", .float64(x))
        #expect(throws: StoreError(.corrupt, "matrix 'K': layer 'fc': factor A is missing or not 5 x 5")) {
            _ = try store.formsProduct("K", vectorNamed: "x", reducedTo: .norm(.l2))
        }
        // Read whole by its form (as when loaded), which checks the shape first.
        #expect(throws: StoreError(.corrupt, "matrix 'K': layer 'fc': tensor 'fc.A' has shape (25,), expected (5,) or (5, 5)")) {
            _ = try store.formsSolve("K", x, regularization: 1)
        }
    }

    @Test func damagedPartsAreNamedByCheck() throws {
        let folder = try TemporaryFolder()
        let store = try StoreLocation.disk.open(in: folder, tileBytes: 96)
        let collection = try Self.collection()
        try store.createCollection("net", collection)
        try store.saveStructured("K", over: "net", try StructuredMatrix.randomKFAC(over: collection, seed: 1), dtype: .float64)
        try store.saveStructured("L", over: "net", try StructuredMatrix.randomKFAC(over: collection, seed: 2), dtype: .float64)
        try store.write { db in
            try db.execute(sql: "DELETE FROM lcdb_matrix_part WHERE matrix_id = 1 AND position = 2 AND part = 'G'")
            try db.execute(sql: "DELETE FROM lcdb_matrix_tile WHERE matrix_id = 2 AND position = 3 AND part = 'A' AND row_start > 0")
        }
        let problems = try store.check()
        #expect(problems.map(\.name) == ["K", "L"])
        #expect(problems[0].problem.contains("block 'fc' is kfac but its parts are [\"A\"]"), "\(problems[0].problem)")
        #expect(problems[1].problem.contains("part 'A' of block 'conv' is missing rows"), "\(problems[1].problem)")
        #expect(throws: StoreError.self) { _ = try store.loadStructured(named: "K") }
    }
}
