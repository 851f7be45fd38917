import COpenBLAS

/// Bands of rows of the dense Fisher blocks `Gᵀ G / Σw`, for blocks that do
/// not all fit in memory: a band is rows `rows` of one layer's block from
/// column `rows.lowerBound` on (`rows.count x (side - rows.lowerBound)`), of
/// which the entries on and right of the diagonal are accumulated over slabs
/// of examples: `G[:, rows]ᵀ G[:, rows]`'s upper triangle (`dsyrk`) and
/// `G[:, rows]ᵀ G[:, rows.upperBound...]` (`dgemm`), the least work.
/// The entries left of the band are the mirror of earlier rows. A caller
/// plans the next bands within a memory budget (`plan`), reads the gradient
/// files once for them, and stores them; then the next bands, in passes,
/// until every block is written.
public struct DenseFisherBands {
    public struct Band: Sendable {
        public let position: Int
        public let rows: Range<Int>
        public let side: Int
        /// `rows.count x (side - rows.lowerBound)`, row-major.
        public fileprivate(set) var values: [Double]

        /// Columns held: from the band's first row to the block's end.
        public var columns: Range<Int> { rows.lowerBound ..< side }
    }

    public private(set) var bands: [Band]

    /// Zeroed bands for `plan`'s (layer, rows) pairs over `collection`.
    public init(collection: LayerCollection, plan: [(position: Int, rows: Range<Int>)]) throws(CoreError) {
        let bytes = plan.reduce(0.0) { $0 + 8 * Double($1.rows.count) * Double(collection.entries[$1.position].layer.numel - $1.rows.lowerBound) }
        try MemoryBudget.require(bytes, for: "a pass over the gradients for the dense Fisher blocks")
        bands = plan.map { item in
            let side = collection.entries[item.position].layer.numel
            return Band(position: item.position, rows: item.rows, side: side,
                        values: [Double](repeating: 0, count: item.rows.count * (side - item.rows.lowerBound)))
        }
    }

    /// The layers whose gradients this pass reads.
    public var positions: Set<Int> { Set(bands.map(\.position)) }

    /// Adds `examples` examples of layer `position`: `slab` is
    /// `examples x side`, row-major, each row already scaled by √w.
    public mutating func add(position: Int, examples: Int, slab: UnsafePointer<Double>) {
        guard examples > 0 else { return }
        for index in bands.indices where bands[index].position == position {
            let rows = bands[index].rows, side = bands[index].side, width = side - rows.lowerBound, m = rows.count
            bands[index].values.withUnsafeMutableBufferPointer { target in
                // The band's own square: one triangle (dsyrk, half the work);
                // the columns after it: dgemm.
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(m), Int32(examples), 1,
                            slab + rows.lowerBound, Int32(side), 1, target.baseAddress!, Int32(width))
                guard width > m else { return }
                cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(m), Int32(width - m), Int32(examples), 1,
                            slab + rows.lowerBound, Int32(side), slab + rows.upperBound, Int32(side), 1, target.baseAddress! + m, Int32(width))
            }
        }
    }

    /// Divides every band by the total weight.
    public mutating func finish(totalWeight: Double) {
        let scale = 1 / totalWeight
        for index in bands.indices {
            bands[index].values.withUnsafeMutableBufferPointer { cblas_dscal(Int32($0.count), scale, $0.baseAddress!, 1) }
        }
    }

    /// The bands of the next pass: from row `row` of layer `position` on, in
    /// order, whole layers where they fit, at most `bytes` in all but at least
    /// one row.
    public static func plan(_ collection: LayerCollection, from position: Int, row: Int, bytes: Double) -> [(position: Int, rows: Range<Int>)] {
        var result: [(position: Int, rows: Range<Int>)] = []
        var left = bytes, (layer, first) = (position, row)
        while layer < collection.count {
            let side = collection.entries[layer].layer.numel
            if side == 0 {
                (layer, first) = (layer + 1, 0)
                continue
            }
            let rowBytes = 8 * Double(side - first)
            let fits = Int(min(Double(side - first), (left / rowBytes).rounded(.down)))
            let count = result.isEmpty ? max(1, fits) : fits
            guard count > 0 else { break }
            result.append((layer, first ..< first + count))
            left -= Double(count) * rowBytes
            if first + count < side { break }
            (layer, first) = (layer + 1, 0)
        }
        return result
    }
}
