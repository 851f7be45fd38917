import Dispatch
import GRDB
import LCDBCore

extension Store {
    /// M x for a stored matrix in forms, a block at a time: the parts of
    /// block k + 1 are read (on this thread, the only one that calls SQLite)
    /// while block k's product runs on a worker thread, so reading and
    /// arithmetic overlap and at most two blocks are in memory (loading the
    /// whole of GPT-2's KFAC first took 4.6 s and 3.3 GB before any product).
    public func formsProduct(_ name: String, _ x: ParameterVector<Double>) throws -> ParameterVector<Double> {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name, anyForm: true)
            guard matrix.collection == x.collection else {
                throw StoreError(.mismatch, "mv: the vector is not over the collection of matrix '\(name)'")
            }
            let layouts = try Store.blockLayouts(db, matrix)
            let largest = layouts.map { $0.parts.reduce(0.0) { $0 + Double($1.rows) * Double($1.columns) } }.max() ?? 0
            try MemoryBudget.require(largest * 8 * 4, for: "two blocks of matrix '\(name)' at a time")
            let collection = matrix.collection
            var result: [Double] = HugePages.array(count: collection.numel)
            let worker = DispatchQueue(label: "lcdb.forms-product")
            let slots = DispatchSemaphore(value: 1)
            try result.withUnsafeMutableBufferPointer { buffer in
                let output = SendablePointer(pointer: buffer.baseAddress!)
                defer { worker.sync {} }
                for (position, block) in layouts.enumerated() {
                    try Interruption.check()
                    let form = try Store.readForm(matrix, position: position, block)
                    let range = collection.range(at: position)
                    let piece = Array(x.values[range])
                    slots.wait()
                    worker.async {
                        let product = form.product(piece)
                        product.withUnsafeBufferPointer { (output.pointer + range.lowerBound).update(from: $0.baseAddress!, count: range.count) }
                        slots.signal()
                    }
                }
            }
            return try ParameterVector(collection: collection, values: result)
        }
    }
}

extension Store {
    /// B x for one dense block of a stored matrix, read tile by tile and
    /// multiplied in float64 whatever the stored dtype (Lanczos on a block
    /// too large for memory needs its products to float64 accuracy).
    public func denseBlockProduct(_ name: String, position: Int, _ x: [Double]) throws -> [Double] {
        try read { db in
            let matrix = try Store.matrixRow(db, name: name)
            let side = matrix.collection.entries[position].layer.numel
            precondition(x.count == side, "denseBlockProduct: \(x.count) values for a block of \(side)")
            var y = [Double](repeating: 0, count: side)
            func accumulate<Scalar: BLASScalar>(_: Scalar.Type) throws {
                var buffer: [Scalar] = []
                var wide: [Double] = []
                try x.withUnsafeBufferPointer { input in
                    try y.withUnsafeMutableBufferPointer { output in
                        try forEachTile(db, matrix, position: position, buffer: &buffer) { (tile: StoredTile<Scalar>) in
                            try Interruption.check()
                            if let doubles = tile as? StoredTile<Double> {
                                Store.accumulateProduct(doubles, side: side, input.baseAddress!, into: output.baseAddress!)
                                return
                            }
                            let count = tile.rows.count * tile.width
                            if wide.count < count { wide = [Double](repeating: 0, count: count) }
                            for k in 0 ..< count { wide[k] = Double(tile.values[k]) }
                            wide.withUnsafeBufferPointer { converted in
                                let tile = StoredTile(rows: tile.rows, columns: tile.columns, values: converted.baseAddress!, layout: tile.layout)
                                Store.accumulateProduct(tile, side: side, input.baseAddress!, into: output.baseAddress!)
                            }
                        }
                    }
                }
            }
            switch matrix.dtype {
            case .float64: try accumulate(Double.self)
            case .float32: try accumulate(Float.self)
            }
            return y
        }
    }
}
