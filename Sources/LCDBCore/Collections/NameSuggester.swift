/// "Did you mean ...": the known names closest to a mistyped one.
public enum NameSuggester {
    /// Up to three names within an edit distance of a third of the name's length (at least 1).
    public static func suggestions(for name: String, among candidates: [String]) -> [String] {
        let target = Array(name.lowercased())
        let limit = max(1, target.count / 3)
        let scored: [(name: String, distance: Int)] = candidates.map { candidate in
            (candidate, distance(target, Array(candidate.lowercased())))
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

    /// Levenshtein distance.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0 ... b.count)
        var current = previous
        for i in 1 ... a.count {
            current[0] = i
            for j in 1 ... b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
