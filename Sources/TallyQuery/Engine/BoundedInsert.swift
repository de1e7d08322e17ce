extension Array {
    /// Inserts `element` where the order `before` puts it (binary search; equal elements keep arrival order), then
    /// drops the last element past `limit`: a top-k kept as a sorted list.
    mutating func insert(_ element: Element, keepingFirst limit: Int, by before: (Element, Element) -> Bool) {
        var lo = 0, hi = count
        while lo < hi {
            let mid = (lo + hi) / 2
            if before(self[mid], element) { lo = mid + 1 } else { hi = mid }
        }
        insert(element, at: lo)
        if count > limit { removeLast() }
    }
}
