extension BlockDiagonalMatrix {
    /// Sides of the blocks, and each block's cost for the scheduler.
    var sides: [Int] { collection.entries.map(\.layer.numel) }

    /// Runs `work` for every block on all cores (see `BlockScheduler`); the
    /// first error, in layer order, is rethrown.
    func forEachBlock(costPower: Int = 2, _ work: @escaping @Sendable (Int) throws(CoreError) -> Void) throws {
        let costs = sides.map { side in (0 ..< costPower).reduce(1) { cost, _ in cost &* max(side, 1) } }
        _ = try BlockScheduler.map(costs: costs, work)
    }

    /// Matrix-vector product M x (`symv` per block when symmetric, else `gemv`).
    public func product(with vector: ParameterVector<Scalar>, matching: LayerMatching = .identical) throws
        -> ParameterVector<Scalar> {
        let (matrix, x) = try aligned(with: vector, matching, for: "mv")
        var result = ParameterVector<Scalar>.zeros(over: matrix.collection)
        try matrix.multiplyBlocks(x.values, into: &result)
        return result
    }

    /// y = M x block by block (`symv` when symmetric, else `gemv`); x and y are
    /// flat arrays over this collection.
    private func multiplyBlocks(_ x: [Scalar], into result: inout ParameterVector<Scalar>) throws {
        let offsets = collection.offsets
        let sides = sides
        let symmetric = isSymmetric
        try x.withUnsafeBufferPointer { xBuffer in
            guard let xBase = xBuffer.baseAddress else { return }
            let input = SharedPointer(base: UnsafeMutablePointer(mutating: xBase))
            var failure: Error?
            result.withMutableValues { yBase in
                let output = SharedPointer(base: yBase)
                do {
                    try forEachBlock { index in
                        let side = Int32(sides[index])
                        guard side > 0 else { return }
                        self.blocks[index].withUnsafeBufferPointer { block in
                            if symmetric {
                                Scalar.symv(side: side, alpha: 1, block.baseAddress!,
                                            input.base + offsets[index], beta: 0, output.base + offsets[index])
                            } else {
                                Scalar.gemv(transposed: false, rows: side, columns: side, alpha: 1, block.baseAddress!,
                                            input.base + offsets[index], beta: 0, output.base + offsets[index])
                            }
                        }
                    }
                } catch { failure = error }
            }
            if let failure { throw failure }
        }
    }

    /// xᵀ M x, summed over blocks in Double.
    public func quadraticForm(_ vector: ParameterVector<Scalar>, matching: LayerMatching = .identical) throws -> Double {
        let (matrix, x) = try aligned(with: vector, matching, for: "vTMv")
        var mx = ParameterVector<Scalar>.zeros(over: matrix.collection)
        try matrix.multiplyBlocks(x.values, into: &mx)
        return try x.dot(mx)
    }

    /// Block-by-block matrix product M N (`gemm`).
    public func matrixProduct(_ other: BlockDiagonalMatrix, matching: LayerMatching = .identical) throws
        -> BlockDiagonalMatrix {
        let (left, right) = try aligned(with: other, matching, for: "mm")
        var result = left
        result.isSymmetric = false
        let sides = left.sides
        try result.blocks.withUnsafeMutableBufferPointer { resultBlocks in
            let output = SharedPointer(base: resultBlocks.baseAddress!)
            try left.forEachBlock(costPower: 3) { index in
                let side = Int32(sides[index])
                guard side > 0 else { return }
                var product = [Scalar](repeating: 0, count: sides[index] * sides[index])
                left.blocks[index].withUnsafeBufferPointer { a in
                    right.blocks[index].withUnsafeBufferPointer { b in
                        Scalar.gemm(rows: side, columns: side, inner: side, a.baseAddress!, b.baseAddress!, &product)
                    }
                }
                output.base[index] = product
            }
        }
        return result
    }

    /// Sum of the diagonal entries, in Double.
    public func trace() -> Double {
        zip(blocks, sides).reduce(0.0) { total, pair in
            let (block, side) = pair
            return (0 ..< side).reduce(total) { $0 + Double(block[$1 * side + $1]) }
        }
    }

    /// sqrt of the sum of squares of all entries (`nrm2` per block).
    public func frobeniusNorm() -> Double {
        let norms = blocks.map { block in
            block.withUnsafeBufferPointer { buffer in
                buffer.count == 0 ? 0 : Scalar.nrm2(count: buffer.count, buffer.baseAddress!)
            }
        }
        return Norms.combined(norms)
    }

    /// The diagonal as a vector over the same collection.
    public func diagonal() -> ParameterVector<Scalar> {
        var values: [Scalar] = []
        values.reserveCapacity(collection.numel)
        for (block, side) in zip(blocks, sides) {
            for i in 0 ..< side { values.append(block[i * side + i]) }
        }
        return ParameterVector(unchecked: collection, values: values)
    }

    /// self + alpha * other, block by block (`axpy`).
    public func adding(_ other: BlockDiagonalMatrix, scaledBy alpha: Scalar = 1,
                       matching: LayerMatching = .identical) throws -> BlockDiagonalMatrix {
        var (result, other) = try aligned(with: other, matching, for: "add")
        result.isSymmetric = result.isSymmetric && other.isSymmetric
        for index in result.blocks.indices where !result.blocks[index].isEmpty {
            other.blocks[index].withUnsafeBufferPointer { x in
                result.blocks[index].withUnsafeMutableBufferPointer { y in
                    Scalar.axpy(count: y.count, alpha: alpha, x.baseAddress!, y.baseAddress!)
                }
            }
        }
        return result
    }

    public func subtracting(_ other: BlockDiagonalMatrix, matching: LayerMatching = .identical) throws
        -> BlockDiagonalMatrix {
        try adding(other, scaledBy: -1, matching: matching)
    }

    /// alpha * self (`scal` per block).
    public func scaled(by alpha: Scalar) -> BlockDiagonalMatrix {
        var result = self
        for index in result.blocks.indices where !result.blocks[index].isEmpty {
            result.blocks[index].withUnsafeMutableBufferPointer { y in
                Scalar.scal(count: y.count, alpha: alpha, y.baseAddress!)
            }
        }
        return result
    }

    func aligned(with vector: ParameterVector<Scalar>, _ matching: LayerMatching, for what: String) throws
        -> (BlockDiagonalMatrix, ParameterVector<Scalar>) {
        switch matching {
        case .identical:
            try collection.requireEqual(to: vector.collection, for: what)
            return (self, vector)
        case .common:
            if collection == vector.collection { return (self, vector) }
            let common = try collection.requireCommonLayers(with: vector.collection, for: what)
            return (try restricted(to: common), try vector.restricted(to: common))
        }
    }

    func aligned(with other: BlockDiagonalMatrix, _ matching: LayerMatching, for what: String) throws
        -> (BlockDiagonalMatrix, BlockDiagonalMatrix) {
        switch matching {
        case .identical:
            try collection.requireEqual(to: other.collection, for: what)
            return (self, other)
        case .common:
            if collection == other.collection { return (self, other) }
            let common = try collection.requireCommonLayers(with: other.collection, for: what)
            return (try restricted(to: common), try other.restricted(to: common))
        }
    }
}
