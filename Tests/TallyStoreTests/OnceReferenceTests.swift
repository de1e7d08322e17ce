import Synchronization
import Testing
@testable import TallyStore

@Suite struct OnceReferenceTests {
    final class Value: Sendable {
        let n: Int
        init(_ n: Int) { self.n = n }
    }

    final class Holder: Sendable {
        let reference = OnceReference<Value>()
    }

    @Test("a once-reference keeps the first value stored, gives every thread that one, and lets it go with itself")
    func firstStoreWins() async throws {
        weak var kept: Value?
        weak var lost: Value?
        do {
            let holder = Holder()
            let empty = holder.reference.load()
            #expect(empty == nil)
            let winners = await withTaskGroup(of: Int.self) { group in
                for n in 0..<16 { group.addTask { holder.reference.storeIfNil(Value(n)).n } }
                return await group.reduce(into: Set<Int>()) { $0.insert($1) }
            }
            #expect(winners.count == 1)
            let loaded = holder.reference.load()
            let stored = try #require(loaded)
            #expect(winners == [stored.n])
            let other = Value(99)
            let again = holder.reference.storeIfNil(other)
            #expect(again === stored)
            kept = stored
            lost = other
        }
        #expect(lost == nil, "a value not stored is released")
        #expect(kept == nil, "the stored value is released with the reference")
    }
}
