/// "Did you mean ...": the known names closest to a mistyped one.
public enum NameSuggester {
    /// Names longer than this get no suggestion: the distance costs the
    /// product of the two lengths (two 100,000-character names took 23.8 GB).
    static let maxLength = 256

    /// Up to three names within an edit distance of a third of the name's length (at least 1).
    public static func suggestions(for name: String, among candidates: [String]) -> [String] {
        guard name.utf8.count <= maxLength * 4 else { return [] }
        let target = Array(name.lowercased())
        guard target.count <= maxLength else { return [] }
        let limit = max(1, target.count / 3)
        let scored: [(name: String, distance: Int)] = candidates.compactMap { candidate in
            // The distance is at least the difference in length: skip those too far apart.
            guard abs(candidate.count - target.count) <= limit, candidate.count <= maxLength else { return nil }
            return (candidate, distance(target, Array(candidate.lowercased())))
        }
        let close = scored.filter { $0.distance <= limit }
        let ranked = close.sorted { a, b in
            a.distance != b.distance ? a.distance < b.distance : a.name < b.name
        }
        return ranked.prefix(3).map { $0.name }
    }

    /// `"; did you mean 'fc1'?"`, or an empty string when nothing is close.
    public static func hint(for name: String, among candidates: [String]) -> String {
        let close = suggestions(for: name, among: candidates)
        guard !close.isEmpty else { return "" }
        return "; did you mean " + close.map { "'\($0)'" }.joined(separator: " or ") + "?"
    }

    /// Edit distance counting an insertion, deletion, substitution or swap of
    /// two adjacent characters as one edit (optimal string alignment).
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0 ... a.count { table[i][0] = i }
        for j in 0 ... b.count { table[0][j] = j }
        for i in 1 ... a.count {
            for j in 1 ... b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var best = min(table[i - 1][j] + 1, table[i][j - 1] + 1, table[i - 1][j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    best = min(best, table[i - 2][j - 2] + 1)
                }
                table[i][j] = best
            }
        }
        return table[a.count][b.count]
    }
}
