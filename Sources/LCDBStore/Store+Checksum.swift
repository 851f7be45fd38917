import Foundation
import GRDB
import LCDBCore

extension Store {
    /// The content hash of a stored vector or matrix: SHA-256 of a byte
    /// stream that depends on the content alone (not on tiles, chunks,
    /// layouts or the file), so identical content in any two files has the
    /// same hash, and Python's hashlib gives it from the documented stream:
    ///
    /// - the text `lcdb vector 1\n` or `lcdb matrix 1\n`, then `dtype D\n`
    ///   (`float32` or `float64`), then one line per layer, `NAME DEFINITION\n`
    ///   (e.g. `fc1 Linear(3, 2)`), then an empty line;
    /// - a vector: every value in lcdb's flattening, as little-endian float64
    ///   (float32 values converted exactly);
    /// - a matrix: for each block in layer order, `block FORM\n`, then each of
    ///   its parts in name order, `part NAME SHAPE\n` (SHAPE as in the
    ///   `matrix_parts` view, e.g. `[3, 3]`) and all its values row-major as
    ///   little-endian float64 (a part kept as one triangle is mirrored whole).
    ///
    /// A dense part is read whole (checked against memory first).
    public func contentHash(of name: String) throws -> String {
        var hash = SHA256()
        switch try kind(of: name) {
        case "vector":
            let vector = try self.vector(named: name)
            hash.update(Store.checksumHeader("vector", vector.dtype, vector.collection))
            hash.update(vector.typed(Double.self).values)
        case "matrix":
            try read { db in
                let matrix = try Store.matrixRow(db, name: name, anyForm: true)
                hash.update(Store.checksumHeader("matrix", matrix.dtype, matrix.collection))
                for block in try Store.blockLayouts(db, matrix) {
                    try Interruption.check()
                    hash.update("block \(block.form.rawValue)\n")
                    for part in block.parts.sorted(by: { $0.name < $1.name }) {
                        try MemoryBudget.require(Double(part.rows) * Double(part.columns) * 8 * 2, for: "part '\(part.name)' read whole for its checksum")
                        let shape = "[" + part.shape.map(String.init).joined(separator: ", ") + "]"
                        hash.update("part \(part.name) \(shape)\n")
                        hash.update(try Store.readPart(part, dtype: matrix.dtype))
                    }
                }
            }
        default:
            throw StoreError(.unknownName, "no vector or matrix '\(name)' (checksum is of stored vectors and matrices)")
        }
        return hash.finalize()
    }

    static func checksumHeader(_ kind: String, _ dtype: DType, _ collection: LayerCollection) -> String {
        "lcdb \(kind) 1\ndtype \(dtype.rawValue)\n"
            + collection.entries.map { "\($0.name) \($0.layer.description)\n" }.joined() + "\n"
    }
}
