extension LayerCollection {
    /// The layers whose names match any of `patterns` (exact names, or globs
    /// with `*` for any run of characters and `?` for one: `layer1.*`), in
    /// this collection's order. A pattern that matches no layer is an error
    /// naming it, so a typo never yields a silently smaller collection.
    public func selecting(_ patterns: [String]) throws(CoreError) -> LayerCollection {
        guard !patterns.isEmpty else { throw CoreError(.invalidArgument, "no layer pattern given") }
        for pattern in patterns where !names.contains(where: { Glob.matches($0, pattern) }) {
            throw CoreError(.unknownName, "no layer matches '\(pattern)'\(NameSuggester.hint(for: pattern, among: names))")
        }
        var selected = LayerCollection()
        for entry in entries where patterns.contains(where: { Glob.matches(entry.name, $0) }) {
            do { try selected.append(entry.name, entry.layer) } catch let error as CoreError { throw error } catch {
                throw CoreError(.invalidArgument, "\(error)")
            }
        }
        return selected
    }
}

/// Shell-style wildcard matching of layer names: `*` any run (dots
/// included), `?` one character, everything else literally.
public enum Glob {
    public static func matches(_ name: String, _ pattern: String) -> Bool {
        let text = Array(name), glob = Array(pattern)
        var (t, g) = (0, 0)
        var star: (glob: Int, text: Int)?
        while t < text.count {
            if g < glob.count, glob[g] == "?" || glob[g] == text[t] {
                t += 1
                g += 1
            } else if g < glob.count, glob[g] == "*" {
                star = (g, t)
                g += 1
            } else if let last = star {
                // Let the last star swallow one more character.
                g = last.glob + 1
                t = last.text + 1
                star = (last.glob, last.text + 1)
            } else {
                return false
            }
        }
        while g < glob.count, glob[g] == "*" { g += 1 }
        return g == glob.count
    }
}
