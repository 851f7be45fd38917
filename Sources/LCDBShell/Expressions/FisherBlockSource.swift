import LCDBCore

/// Dense Fisher blocks computed from gradient files as they are asked for
/// (`FisherStream` when they fit in memory, `FisherPasses` when they do not):
/// `let` stores them panel by panel while the rest is computed, and other
/// operations take whole blocks.
public protocol FisherBlockSource: AnyObject, Sendable {
    /// Columns `columns` of rows `rows` of block `position` into `target`
    /// (row-major, `columns.count` per row): an upper panel (columns from the
    /// rows' first diagonal entry to the block's end) or a whole block.
    func fill<Scalar: BLASScalar>(_ position: Int, _ rows: Range<Int>, _ columns: Range<Int>, into target: UnsafeMutablePointer<Scalar>) throws

    /// Block `position` whole (its caller checked that it fits).
    func block<Scalar: BLASScalar>(at position: Int, as _: Scalar.Type) throws -> [Scalar]
}
