/// The largest products `a_i b_j` of two lists, found without forming all
/// `|a| |b|` of them: the products of a kfac block's factor eigenvalues
/// (GPT-2 small's KFAC has 85 million; its top 100 take microseconds once
/// the factors' eigenvalues are known).
///
/// The pairs split by sign into four quadrants; in each, the lists are
/// ordered so that the product never grows as `i` or `j` grows:
/// (+, +) both descending; (-, -) both ascending (most negative first);
/// (+, -) `a` ascending, `b` descending (closest to zero first); (-, +) the
/// mirror. Then one max-heap walks all four as sorted matrices: popping
/// `(i, j)` pushes `(i, j + 1)`, and `(i + 1, 0)` when `j = 0`, so every pair
/// is reached once and none before a pair that is at least as large.
public enum KroneckerExtremes {
    public static func largest(_ k: Int, _ a: [Double], _ b: [Double]) -> [Double] {
        let k = min(k, a.count * b.count)
        guard k > 0 else { return [] }
        let aPositive = a.filter { $0 >= 0 }, aNegative = a.filter { $0 < 0 }
        let bPositive = b.filter { $0 >= 0 }, bNegative = b.filter { $0 < 0 }
        let quadrants: [(rows: [Double], columns: [Double])] = [
            (aPositive.sorted(by: >), bPositive.sorted(by: >)),
            (aNegative.sorted(), bNegative.sorted()),
            (aPositive.sorted(), bNegative.sorted(by: >)),
            (aNegative.sorted(by: >), bPositive.sorted()),
        ].filter { !$0.0.isEmpty && !$0.1.isEmpty }

        struct Cell { let value: Double; let quadrant: Int; let i: Int; let j: Int }
        var heap = BinaryHeap<Cell>(before: { $0.value > $1.value })
        for (index, quadrant) in quadrants.enumerated() {
            heap.push(Cell(value: quadrant.rows[0] * quadrant.columns[0], quadrant: index, i: 0, j: 0))
        }
        var result: [Double] = []
        result.reserveCapacity(k)
        while result.count < k, let cell = heap.pop() {
            result.append(cell.value)
            let (rows, columns) = quadrants[cell.quadrant]
            if cell.j + 1 < columns.count {
                heap.push(Cell(value: rows[cell.i] * columns[cell.j + 1], quadrant: cell.quadrant, i: cell.i, j: cell.j + 1))
            }
            if cell.j == 0, cell.i + 1 < rows.count {
                heap.push(Cell(value: rows[cell.i + 1] * columns[0], quadrant: cell.quadrant, i: cell.i + 1, j: 0))
            }
        }
        return result
    }
}
