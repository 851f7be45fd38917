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
            var result = [Double](repeating: 0, count: collection.numel)
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
