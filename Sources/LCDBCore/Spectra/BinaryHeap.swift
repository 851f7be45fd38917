/// A binary heap: `top` is the element that comes first by `before`
/// (Swift's standard library has none; this is the textbook array heap).
public struct BinaryHeap<Element> {
    private(set) var elements: [Element] = []
    private let before: (Element, Element) -> Bool

    public init(before: @escaping (Element, Element) -> Bool) { self.before = before }

    public var count: Int { elements.count }
    public var isEmpty: Bool { elements.isEmpty }
    public var top: Element? { elements.first }

    public mutating func push(_ element: Element) {
        elements.append(element)
        var child = elements.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard before(elements[child], elements[parent]) else { break }
            elements.swapAt(child, parent)
            child = parent
        }
    }

    public mutating func pop() -> Element? {
        guard !elements.isEmpty else { return nil }
        elements.swapAt(0, elements.count - 1)
        let first = elements.removeLast()
        siftDown(from: 0)
        return first
    }

    /// Replaces the top with `element` (one sift instead of a pop and a push).
    public mutating func replaceTop(_ element: Element) {
        guard !elements.isEmpty else { return push(element) }
        elements[0] = element
        siftDown(from: 0)
    }

    private mutating func siftDown(from start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1, right = left + 1
            var first = parent
            if left < elements.count, before(elements[left], elements[first]) { first = left }
            if right < elements.count, before(elements[right], elements[first]) { first = right }
            guard first != parent else { return }
            elements.swapAt(parent, first)
            parent = first
        }
    }
}
