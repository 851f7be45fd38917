import Foundation
import GRDB
import LCDBCore
import Testing
@testable import LCDBStore

@Suite struct StoreObjectsTests {
    @Test(arguments: StoreLocation.allCases)
    func collectionsRoundTripWithEveryKind(location: StoreLocation) throws {
        let folder = try TemporaryFolder()
        let store = try location.open(in: folder)
        let every = try LayerCollection([
            ("a", .linear(3, 4)), ("b", .linear(3, 4, bias: false)), ("c", .conv1d(2, 3, kernelSize: 4)),
            ("d", .conv2d(3, 8, kernelSize: (3, 5))), ("e", .convTranspose2d(4, 6, kernelSize: (2, 3))),
            ("f", .batchNorm1d(3)), ("g", .batchNorm2d(3)), ("h", .groupNorm(numGroups: 2, numChannels: 4)),
            ("i", .layerNorm([2, 3])), ("j", .layerNorm([4], bias: false)), ("k", .rmsNorm([5])),
            ("l", .embedding(10, 3)), ("m", .weightNorm1d(2, 2)), ("n", .weightNorm2d(1, 2, kernelSize: (3, 3))),
            ("o", .cosine1d(2, 3)), ("p", .affine1d(4, bias: false)), ("q", .parameter([2, 3, 4])),
        ])
        try store.createCollection("every", every)
        #expect(try store.collection(named: "every") == every)
        #expect(try store.collectionSummaries() == [CollectionSummary(name: "every", layerCount: 17, numel: every.numel)])
        // The public view holds JSON shapes and hyperparameters.
        let row = try store.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM layers WHERE collection = 'every' AND name = 'd'")
        }
        #expect(row?["kind"] == "Conv2d")
        #expect(row?["weight_shape"] == "[8,3,3,5]")
        #expect(row?["bias_shape"] == "[8]")
        #expect(row?["hyperparameters"] == #"{"in_channels":3,"out_channels":8,"kernel_size":[3,5],"bias":true}"#)
        let offset: Int? = row?["param_offset"]
        #expect(offset == 55) // after Linear(3, 4) 16, Linear(3, 4, bias=false) 12, Conv1d(2, 3, 4) 27
        #expect(row?["position"] == 3)
        let b = try store.read { db in try Row.fetchOne(db, sql: "SELECT bias_shape FROM layers WHERE name = 'b'") }
        #expect(b?["bias_shape"] == nil as String?)
    }

    @Test(arguments: StoreLocation.allCases)
    func awkwardNamesAreBoundParameters(location: StoreLocation) throws {
        let folder = try TemporaryFolder()
        let store = try location.open(in: folder)
        let names = ["it's", "semi;colon; DROP TABLE lcdb_layer; --", "ünïcødé Δ 模型", "\"quoted\""]
        for name in names {
            let collection = try LayerCollection([(name, .linear(1, 1))])
            try store.createCollection(name, collection)
            // One namespace: the vector and the matrix take suffixed names.
            try store.saveVector(name + " v", over: name, .float64(.ones(over: collection)))
            try store.saveMatrix(name + " M", over: name, try BlockDiagonalMatrix<Double>.identity(over: collection))
        }
        #expect(try store.collectionNames() == names.sorted())
        #expect(throws: StoreError.self) { try store.saveVector(names[0], over: names[0], .float64(.ones(over: try LayerCollection([(names[0], .linear(1, 1))])))) }
        for name in names {
            #expect(try store.collection(named: name).names == [name])
            #expect(try store.vector(named: name + " v").doubles == [1, 1])
            #expect(try store.trace(name + " M") == 2)
        }
    }

    @Test(arguments: StoreLocation.allCases)
    func vectorsRoundTripInChunks(location: StoreLocation) throws {
        let folder = try TemporaryFolder()
        let store = try location.open(in: folder, tileBytes: 64) // 8 doubles or 16 floats per chunk
        let collection = try sampleCollection()
        try store.createCollection("net", collection)
        let single = ParameterVector<Float>.random(over: collection, seed: 3)
        let double = ParameterVector<Double>.random(over: collection, seed: 4)
        try store.saveVector("g32", over: "net", .float32(single))
        try store.saveVector("g64", over: "net", .float64(double))
        #expect(try store.vector(named: "g32") == .float32(single))
        #expect(try store.vector(named: "g64") == .float64(double))
        let chunks = try store.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM vector_chunks WHERE vector = 'g64'") }
        #expect(chunks == 4 + 1 + 4 + 1) // 27, 6, 25, 5 values in chunks of 8
        #expect(try store.vectorSummaries().map(\.name) == ["g32", "g64"])
        #expect(throws: StoreError(.duplicateName, "vector 'g32' already exists")) {
            try store.saveVector("g32", over: "net", .float32(single))
        }
        try store.saveVector("g32", over: "net", .float64(double), replace: true)
        #expect(try store.vector(named: "g32").dtype == .float64)
        try store.renameVector("g32", to: "renamed")
        try store.dropVector("renamed")
        #expect(throws: StoreError(.unknownName, "no vector 'renamed'")) { try store.dropVector("renamed") }
        let other = try LayerCollection([("x", .linear(1, 1))])
        #expect(throws: StoreError(.mismatch, "the vector is not over collection 'net': layer 1 is 'conv' Conv2d(2, 3, kernel_size=(2, 2)) in the first and 'x' Linear(1, 1) in the second")) {
            try store.saveVector("bad", over: "net", .float64(.ones(over: other)))
        }
    }

    /// How the matrix under test is stored: a general matrix (whole rows), a
    /// symmetric one in whole rows (as every matrix before migration 0002),
    /// and a symmetric one as its upper triangle.
    enum Storage: String, CaseIterable, Sendable, CustomStringConvertible {
        case fullGeneral, fullSymmetric, upper
        var description: String { rawValue }
    }

    @Test(arguments: StoreLocation.allCases, Storage.allCases)
    func storedProductsMatchInMemory(location: StoreLocation, storage: Storage) throws {
        let folder = try TemporaryFolder()
        // 3 rows of 27 doubles per full tile: several tiles per block, a ragged
        // last one; upper tiles grow from 3 rows to whole remaining squares.
        let store = try location.open(in: folder, tileBytes: 27 * 8 * 3)
        let collection = try sampleCollection()
        try store.createCollection("net", collection)
        for dtype in DType.allCases {
            let name = "F_\(dtype)"
            var memory = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 8)
            if storage == .fullGeneral {
                // Strictly above the diagonal only, small enough to keep the
                // blocks diagonally dominant (so solvable): not symmetric.
                var generator = SeededGenerator(seed: 11)
                let blocks = memory.blocks.enumerated().map { index, block in
                    let side = collection.entries[index].layer.numel
                    return block.enumerated().map { entry, value in
                        entry % side > entry / side ? value + 0.5 * Double.random(in: -1 ... 1, using: &generator) : value
                    }
                }
                memory = try BlockDiagonalMatrix(collection: collection, blocks: blocks)
                #expect(!memory.isSymmetric)
            }
            let x = ParameterVector<Double>.random(over: collection, seed: 9)
            let tolerance = dtype == .float32 ? 1e-5 : 1e-12
            let layout: MatrixLayout? = storage == .fullSymmetric ? .full : nil
            switch dtype {
            case .float32: try store.saveMatrix(name, over: "net", memory.converted(to: Float.self), layout: layout)
            case .float64: try store.saveMatrix(name, over: "net", memory, layout: layout)
            }
            let loaded = try store.loadMatrix(named: name)
            #expect(loaded.typed(Double.self).blocks == memory.converted(to: Float.self).converted(to: Double.self).blocks
                || dtype == .float64 && loaded == .float64(memory))
            let reference = loaded.typed(Double.self)
            #expect(maxRelativeError(try store.product(name, .float64(x)).doubles, try reference.product(with: x).values) < tolerance)
            #expect(abs(try store.quadraticForm(name, .float64(x)) - (try reference.quadraticForm(x))) / (try reference.quadraticForm(x)) < tolerance)
            #expect(abs(try store.trace(name) - reference.trace()) / reference.trace() < 1e-12)
            #expect(try store.diagonal(name).doubles == reference.diagonal().values)
            #expect(abs(try store.frobeniusNorm(name) - reference.frobeniusNorm()) / reference.frobeniusNorm() < 1e-6)
            let mx = try reference.product(with: x)
            #expect(maxRelativeError(try store.solve(name, .float64(mx)).doubles, x.values) < tolerance * 10)
            #expect(maxRelativeError(try store.solve(name, .float64(mx.adding(x, scaledBy: 0.5)), regularization: 0.5).doubles,
                                     x.values) < tolerance * 10)
            let summary = try #require(try store.matrixSummaries().first { $0.name == name })
            #expect(summary.representation == "blockdiag" && summary.symmetric == (storage != .fullGeneral))
            #expect(summary.layout == (storage == .upper ? .upper : .full))
            let full = collection.entries.reduce(0) { $0 + $1.layer.numel * $1.layer.numel } * dtype.size
            let triangle = collection.entries.reduce(0) { $0 + $1.layer.numel * ($1.layer.numel + 1) / 2 } * dtype.size
            if storage == .upper {
                #expect(summary.bytes >= triangle && summary.bytes < full)
            } else {
                #expect(summary.bytes == full)
            }
            // The public view describes each tile's rectangle exactly.
            let tiles = try store.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM matrix_tiles WHERE matrix = ? ORDER BY position, row_start", arguments: [name])
            }
            for tile in tiles {
                let rowStart: Int = tile["row_start"], rowCount: Int = tile["row_count"], side: Int = tile["side"]
                let columnStart: Int = tile["col_start"], columnCount: Int = tile["col_count"], data: Data = tile["data"]
                #expect(columnStart == (storage == .upper ? rowStart : 0) && columnCount == side - columnStart)
                #expect(data.count == rowCount * columnCount * dtype.size)
                #expect(tile["layout"] == summary.layout.rawValue)
            }
        }
    }

    @Test(arguments: StoreLocation.allCases)
    func generatedMatricesAreWrittenTileByTile(location: StoreLocation) throws {
        let folder = try TemporaryFolder()
        let store = try location.open(in: folder, tileBytes: 200)
        let collection = try sampleCollection()
        try store.createCollection("net", collection)
        let source = BlockSource.randomSPD(seed: 5)
        for layout in [MatrixLayout.full, .upper] {
            try store.createMatrix("gen", over: "net", as: Double.self, layout: layout, symmetric: true, replace: true) {
                block, side, rows, columns, target in
                source.fill(block: block, side: side, rows: rows, columns: columns, into: target)
            }
            #expect(try store.loadMatrix(named: "gen") == .float64(try .randomSPD(over: collection, seed: 5)))
            #expect(try store.matrix(named: "gen").layout == layout)
        }
        // A filler that turns out not symmetric cannot keep one triangle.
        #expect(throws: StoreError(.mismatch, "matrix 'bad' is not symmetric, so it cannot be stored as one triangle")) {
            try store.createMatrix("bad", over: "net", as: Double.self, layout: .upper, symmetric: false) { _, _, rows, columns, target in
                target.initialize(repeating: 1, count: rows.count * columns.count)
            }
        }
        #expect(try store.matrixSummaries().map(\.name) == ["gen"])
    }

    @Test(arguments: StoreLocation.allCases)
    func mismatchedAndCommonLayers(location: StoreLocation) throws {
        let folder = try TemporaryFolder()
        let store = try location.open(in: folder)
        let collection = try sampleCollection()
        try store.createCollection("net", collection)
        try store.saveMatrix("F", over: "net", try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 1))
        let other = try LayerCollection([("fc", .linear(4, 5)), ("head", .linear(5, 2))])
        let x = ParameterVector<Double>.random(over: other, seed: 2)
        #expect(throws: CoreError.self) { _ = try store.product("F", .float64(x)) }
        let y = try store.product("F", .float64(x), matching: .common)
        #expect(y.collection.names == ["fc"])
    }

    @Test(arguments: StoreLocation.allCases)
    func dependentsBlockDeletesUnlessCascaded(location: StoreLocation) throws {
        let folder = try TemporaryFolder()
        let store = try location.open(in: folder)
        let collection = try sampleCollection()
        try store.createCollection("net", collection)
        try store.saveVector("v", over: "net", .float32(.ones(over: collection)))
        try store.saveMatrix("M", over: "net", try BlockDiagonalMatrix<Float>.identity(over: collection))
        #expect(throws: StoreError(.inUse, "collection 'net' is used by vector 'v', matrix 'M'; drop them first or use cascade")) {
            try store.dropCollection("net")
        }
        #expect(throws: StoreError.self) { try store.replaceCollection("net", with: try LayerCollection([("x", .linear(1, 1))])) }
        var renamed = collection
        try renamed.rename("fc", to: "classifier")
        try store.replaceCollection("net", with: renamed) // renaming layers keeps stored data valid
        #expect(try store.vector(named: "v").collection == renamed)
        try store.renameCollection("net", to: "net2")
        #expect(try store.dependents(of: "net2") == Dependents(vectors: ["v"], matrices: ["M"]))
        try store.dropCollection("net2", cascade: true)
        #expect(try store.vectorSummaries().isEmpty && store.matrixSummaries().isEmpty && store.collectionNames().isEmpty)
        let leftovers = try store.read { db in
            try Int.fetchOne(db, sql: "SELECT (SELECT count(*) FROM lcdb_layer) + (SELECT count(*) FROM lcdb_matrix_tile) + (SELECT count(*) FROM lcdb_vector_chunk)")
        }
        #expect(leftovers == 0)
    }

    @Test(arguments: StoreLocation.allCases)
    func aFailedOperationChangesNothing(location: StoreLocation) throws {
        let folder = try TemporaryFolder()
        let store = try location.open(in: folder, tileBytes: 64)
        let collection = try sampleCollection()
        try store.createCollection("net", collection)
        struct Boom: Error {}
        var calls = 0
        #expect(throws: Boom.self) {
            try store.createMatrix("half", over: "net", as: Double.self, symmetric: false) { _, _, _, _, target in
                calls += 1
                if calls == 5 { throw Boom() }
                target.update(repeating: 1, count: 1)
            }
        }
        #expect(try store.matrixSummaries().isEmpty)
        let tiles = try store.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM lcdb_matrix_tile") }
        #expect(tiles == 0)
        #expect(throws: StoreError(.duplicateName, "collection 'net' already exists")) { try store.createCollection("net", collection) }
        #expect(throws: StoreError(.unknownName, "no collection 'nte'; did you mean 'net'?")) { _ = try store.collection(named: "nte") }
        #expect(try store.integrityCheck() == "ok")
    }

    /// A tile damaged by an outside writer is a clear error from every reader
    /// (products read ahead on a second thread), never a crash or a wrong answer.
    @Test(arguments: [MatrixLayout.full, .upper])
    func damagedTilesAreCorruptErrors(layout: MatrixLayout) throws {
        let folder = try TemporaryFolder()
        let store = try StoreLocation.disk.open(in: folder, tileBytes: 27 * 8 * 3)
        let collection = try sampleCollection()
        try store.createCollection("net", collection)
        let source = BlockSource.randomSPD(seed: 2)
        try store.createMatrix("F", over: "net", as: Double.self, layout: layout, symmetric: true) { block, side, rows, columns, target in
            source.fill(block: block, side: side, rows: rows, columns: columns, into: target)
        }
        let x = AnyParameterVector.float64(.random(over: collection, seed: 1))
        // A later tile of the first block loses a value; then one goes missing.
        try store.write { db in
            try db.execute(sql: """
                UPDATE lcdb_matrix_tile SET data = substr(data, 1, length(data) - 8)
                WHERE rowid = (SELECT rowid FROM lcdb_matrix_tile WHERE position = 0 ORDER BY row_start LIMIT 1 OFFSET 2)
                """)
        }
        // The message gives the tile's size and the size its rows need.
        let found = layout == .full ? "holds 640 bytes, not the 648" : "holds 328 bytes, not the 336"
        func expectShortTile(_ body: () throws -> Void) {
            do {
                try body()
                Issue.record("a short tile was read")
            } catch let error as StoreError {
                #expect(error.code == .corrupt && error.message.contains("matrix 'F': the tile of block 'conv' at row ")
                        && error.message.contains(found), "\(error)")
            } catch { Issue.record("\(error)") }
        }
        expectShortTile { _ = try store.product("F", x) }
        expectShortTile { _ = try store.quadraticForm("F", x) }
        expectShortTile { _ = try store.frobeniusNorm("F") }
        expectShortTile { _ = try store.loadMatrix(named: "F") }
        expectShortTile { try store.streamTiles(of: "F") { _, _, _, _ in } }
        try store.write { db in
            try db.execute(sql: "DELETE FROM lcdb_matrix_tile WHERE position = 1 AND row_start > 0")
        }
        #expect(throws: StoreError.self) { _ = try store.trace("F") }
        // A tile whose first column does not match the layout (matrix H, else
        // whole). The column is redundant (the layout says it), so reads go by
        // the layout, unchanged; `check` names the tile.
        try store.createMatrix("H", over: "net", as: Double.self, layout: layout, symmetric: true) { block, side, rows, columns, target in
            source.fill(block: block, side: side, rows: rows, columns: columns, into: target)
        }
        let before = (try store.diagonal("H"), try store.solve("H", x), try store.product("H", x))
        try store.write { db in
            try db.execute(sql: """
                UPDATE lcdb_matrix_tile SET col_start = col_start + 1
                WHERE rowid = (SELECT t.rowid FROM lcdb_matrix_tile t JOIN lcdb_matrix m ON m.id = t.matrix_id
                               WHERE m.name = 'H' AND t.position = 2 AND t.row_start = 3)
                """)
        }
        // Block 'fc' has 25 rows of 25: 3 rows per tile from row 0, so the second tile starts at row 3.
        let column = layout == .upper ? 4 : 1
        let misplaced = "matrix 'H': a tile of block 'fc' starts at column \(column), which its \(layout.rawValue) layout does not allow"
        let problems = try store.check()
        #expect(problems.contains { $0.name == "H" && $0.problem.contains(misplaced) }, "\(problems)")
        #expect(try store.diagonal("H") == before.0)
        #expect(try store.solve("H", x) == before.1)
        #expect(try store.product("H", x) == before.2)
    }

    /// Export streams whole rows: from full tiles directly, and rebuilt from
    /// upper ones a group of rows at a time (here groups of 1, 7 and 200 rows,
    /// so groups cut through tiles and tiles through groups).
    @Test(arguments: [MatrixLayout.full, .upper])
    func streamedRowsAreTheWholeBlocks(layout: MatrixLayout) throws {
        let folder = try TemporaryFolder()
        let store = try StoreLocation.disk.open(in: folder, tileBytes: 27 * 8 * 3)
        let collection = try sampleCollection()
        try store.createCollection("net", collection)
        let memory = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 6)
        try store.saveMatrix("F", over: "net", memory, layout: layout)
        for groupRows in [1, 7, 200] {
            store.rowGroupBytes = groupRows * 27 * 8 // rows of the widest block, conv's 27
            var blocks = collection.entries.map { [Double](repeating: .nan, count: $0.layer.numel * $0.layer.numel) }
            var nextRow = Array(repeating: 0, count: collection.count)
            try store.streamTiles(of: "F") { position, side, rows, bytes in
                #expect(rows.lowerBound == nextRow[position] && bytes.count == rows.count * side * 8)
                nextRow[position] = rows.upperBound
                let values = bytes.bindMemory(to: Double.self)
                for (index, value) in values.enumerated() { blocks[position][rows.lowerBound * side + index] = value }
            }
            #expect(nextRow == collection.entries.map(\.layer.numel))
            #expect(blocks == memory.blocks, "groups of \(groupRows) rows")
        }
    }

    /// Operations that need a whole block refuse one larger than half of
    /// memory before allocating it (an allocation that size would end in the
    /// kernel killing the process); streamed ones still run.
    @Test func wholeBlockOperationsRefuseBlocksLargerThanMemory() throws {
        let folder = try TemporaryFolder()
        let store = try StoreLocation.disk.open(in: folder)
        // 400,000 parameters: a 1.28 TB float64 block. Its matrix row is made
        // by hand with no tiles: nothing that size is ever written.
        let collection = try LayerCollection([("huge", .parameter([400_000]))])
        try store.createCollection("net", collection)
        try store.write { db in
            try db.execute(sql: """
                INSERT INTO lcdb_matrix (name, collection_id, representation, dtype, symmetric, layout)
                SELECT 'M', id, 'blockdiag', 'float64', 1, 'upper' FROM lcdb_collection WHERE name = 'net'
                """)
        }
        let x = AnyParameterVector.float64(.ones(over: collection))
        for operation in [{ _ = try store.solve("M", x) }, { _ = try store.loadMatrix(named: "M") },
                          { _ = try store.block(of: "M", at: 0, as: Double.self) }] {
            #expect {
                try operation()
            } throws: { error in
                let message = (error as? StoreError)?.message ?? ""
                return (error as? StoreError)?.code == .tooLarge && message.hasPrefix("block 'huge' of matrix 'M' (400000 x 400000)")
                    && message.contains("1.3 TB")
            }
        }
        // Streamed operations read tiles; with none stored they report the damage instead.
        #expect(throws: StoreError(.corrupt, "matrix 'M': block 'huge' is missing rows")) { _ = try store.trace("M") }
    }

    /// Panels read from a stored matrix, in either layout and dtype, are the
    /// blocks' entries: whole rows from a full matrix, and the columns from
    /// the panel's first row on from a triangle (the rest mirrored).
    @Test(arguments: [MatrixLayout.full, .upper])
    func panelsOfStoredMatricesAreTheirEntries(layout: MatrixLayout) throws {
        let folder = try TemporaryFolder()
        let store = try StoreLocation.disk.open(in: folder, tileBytes: 27 * 8 * 3)
        let collection = try sampleCollection()
        try store.createCollection("net", collection)
        let memory = try BlockDiagonalMatrix<Double>.randomSPD(over: collection, seed: 12)
        for dtype in DType.allCases {
            let name = "F_\(dtype)"
            switch dtype {
            case .float32: try store.saveMatrix(name, over: "net", memory.converted(to: Float.self), layout: layout)
            case .float64: try store.saveMatrix(name, over: "net", memory, layout: layout)
            }
            let reference = try store.loadMatrix(named: name).typed(Double.self)
            for step in [1, 2, 5, 27] {
                let reader = try StoredPanelReader(store, matrix: name)
                for (position, entry) in collection.entries.enumerated() {
                    let side = entry.layer.numel
                    for start in stride(from: 0, to: side, by: step) {
                        let rows = start ..< min(side, start + step)
                        for columns in layout == .upper ? [start ..< side] : [0 ..< side, start ..< side] {
                            var panel = [Double](repeating: .nan, count: rows.count * columns.count)
                            try panel.withUnsafeMutableBufferPointer { try reader.read(position: position, rows: rows, columns: columns, into: $0.baseAddress!) }
                            let expected = rows.flatMap { row in columns.map { reference.blocks[position][row * side + $0] } }
                            #expect(panel == expected, "\(name) block \(position) rows \(rows) columns \(columns)")
                        }
                    }
                }
            }
            if layout == .upper {
                let reader = try StoredPanelReader(store, matrix: name)
                var panel = [Double](repeating: 0, count: 2 * 27)
                #expect(throws: StoreError.self) {
                    try panel.withUnsafeMutableBufferPointer { try reader.read(position: 0, rows: 3 ..< 5, columns: 0 ..< 27, into: $0.baseAddress!) }
                }
            }
        }
    }
}
