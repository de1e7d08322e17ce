import Testing
@testable import TallyStore

@Suite struct UTF8OrderTests {
    /// The order by bytes, element by element.
    static func reference(_ a: String, _ b: String) -> Int {
        let x = Array(a.utf8), y = Array(b.utf8)
        if x.lexicographicallyPrecedes(y) { return -1 }
        return y.lexicographicallyPrecedes(x) ? 1 : 0
    }

    @Test("strings compare by their UTF-8 bytes, small and large, ASCII or not, as a byte-by-byte comparison does")
    func comparesByBytes() {
        var rng = SystemRandomNumberGenerator()
        let alphabet: [String] = ["a", "b", "z", "A", "0", "_", "é", "ß", "日", "本", "🙂", "\u{0}"]
        var strings: [String] = ["", "a", "ab", "b", "tnt_5be1682f", "tnt_5be1682g", String(repeating: "x", count: 15),
                                 String(repeating: "x", count: 16), String(repeating: "x", count: 40) + "a", String(repeating: "x", count: 40) + "b"]
        for _ in 0..<300 {
            strings.append((0..<Int.random(in: 0...24, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! }.joined())
        }
        for a in strings {
            for b in strings.prefix(80) {
                #expect(UTF8Order.compare(a, b).signum() == Self.reference(a, b), "\(a.debugDescription) vs \(b.debugDescription)")
                #expect(UTF8Order.equal(a, b) == (Array(a.utf8) == Array(b.utf8)))
            }
        }
        #expect(strings.sorted(by: UTF8Order.precedes).map { Array($0.utf8) } == strings.map { Array($0.utf8) }.sorted { $0.lexicographicallyPrecedes($1) })
    }
}
